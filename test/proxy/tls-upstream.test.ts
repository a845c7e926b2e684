import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createServer, type Server } from 'node:tls';
import { StreamFramer } from '../../src/sip/framer.js';
import { parseMessage } from '../../src/sip/parser.js';
import { buildReply } from '../../src/sip/reply.js';
import { waitFor } from '../helpers/process.js';
import { startSipwarden } from '../helpers/sipwarden.js';
import { makeCert } from '../helpers/ua.js';

/** A TLS upstream that answers every request 200 (sipwarden's OPTIONS pings). */
function tlsUpstream(cert: string, key: string, port: number): Promise<{ server: Server; pings: () => number }> {
  let pings = 0;
  const server = createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (socket) => {
    const framer = new StreamFramer();
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      for (const f of framer.push(chunk)) {
        if (f.kind !== 'message') continue;
        const req = parseMessage(Buffer.from(f.data));
        if (req.isRequest) {
          pings++;
          socket.write(buildReply(req, 200, 'OK'));
        }
      }
    });
  });
  server.on('tlsClientError', () => {});
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve({ server, pings: () => pings })));
}

describe('proxy: TLS to upstream targets', () => {
  it('refuses a certificate it cannot verify, and trusts the configured CA', async () => {
    const { cert, key } = makeCert(mkdtempSync(join(tmpdir(), 'sipwarden-upstream-cert-')));
    const upstream = await tlsUpstream(cert, key, 16470);
    const config = (tls: string) => `listen: [udp://127.0.0.1:16460]
upstreams:
  - name: pbx
    targets: [tls://127.0.0.1:16470]
    ping: { interval: 200ms, timeout: 150ms, failures: 2 }
${tls}`;
    // Self-signed and no CA configured: the handshake fails, the target leaves the rotation.
    const untrusted = await startSipwarden(config(''), { listeners: 1 });
    await waitFor(
      () => untrusted.logs().some((l) => l.event === 'upstream-down'),
      'the unverifiable target to go down',
    );
    assert.equal(upstream.pings(), 0, 'no request was sent over an unverified connection');
    assert.equal(await untrusted.stop(), 0);

    // With the certificate as the CA, the pings go through and the target stays up.
    const trusted = await startSipwarden(config(`    tls: { ca: ${cert} }\n`), { listeners: 1 });
    await waitFor(() => upstream.pings() >= 3, 'pings over verified TLS');
    assert.ok(!trusted.logs().some((l) => l.event === 'upstream-down'));
    assert.equal(await trusted.stop(), 0);
    upstream.server.close();
  });
});
