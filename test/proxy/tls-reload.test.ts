import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connect, type TLSSocket } from 'node:tls';
import { waitFor } from '../helpers/process.js';
import { startSipwarden } from '../helpers/sipwarden.js';
import { makeCert } from '../helpers/ua.js';

/** A certificate renewed on disk is served after SIGHUP, without a restart. */

const HOST = '127.114.0.1';
const PORT = 40620;

function open(): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const tcp = netConnect({ host: HOST, port: PORT, localAddress: '127.114.0.3' });
    const s = connect({ socket: tcp, rejectUnauthorized: false }, () => resolve(s));
    s.once('error', reject);
  });
}

const fingerprint = (s: TLSSocket) => s.getPeerCertificate().fingerprint256;

/** A keep-alive answered on this connection: it is still open and served. */
function pong(s: TLSSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no pong')), 3_000);
    s.once('data', (d: Buffer) => {
      clearTimeout(timer);
      assert.equal(d.toString(), '\r\n');
      resolve();
    });
    s.write('\r\n\r\n');
  });
}

describe('TLS certificates re-read on SIGHUP', () => {
  it('new connections get the renewed certificate, open ones keep theirs', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sipwarden-renew-'));
    const live = join(root, 'live');
    mkdirSync(live);
    const first = makeCert(mkdtempSync(join(root, 'a-')));
    const renewed = makeCert(mkdtempSync(join(root, 'b-')));
    const install = (c: { cert: string; key: string }) => {
      copyFileSync(c.cert, join(live, 'cert.pem'));
      copyFileSync(c.key, join(live, 'key.pem'));
    };
    install(first);
    const sw = await startSipwarden(
      `listen:
  - url: tls://${HOST}:${PORT}
    cert: ${live}/cert.pem
    key: ${live}/key.pem
upstreams:
  - name: pbx
    targets: [udp://${HOST}:40621]
    ping: false
`,
      { listeners: 1 },
    );
    const sockets: TLSSocket[] = [];
    try {
      const before = await open();
      sockets.push(before);
      const old = fingerprint(before);

      install(renewed);
      sw.run.signal('SIGHUP');
      await waitFor(() => sw.logs().some((l) => l.event === 'reloaded'), 'the reload');
      const after = await open();
      sockets.push(after);
      assert.notEqual(fingerprint(after), old, 'a new connection gets the renewed certificate');
      await pong(before);
      assert.equal(fingerprint(before), old, 'the open connection keeps its certificate');
      await pong(after);

      // A key that does not match: the reload fails and the renewed certificate stays in use.
      writeFileSync(join(live, 'key.pem'), readFileSync(first.key));
      sw.run.signal('SIGHUP');
      await waitFor(
        () => sw.logs().some((l) => l.event === 'reload-failed' && /tls:\/\/127\.114\.0\.1:40620/.test(String(l.msg))),
        'the failed reload',
      );
      const third = await open();
      sockets.push(third);
      assert.equal(fingerprint(third), fingerprint(after));
    } finally {
      for (const s of sockets) s.destroy();
      assert.equal(await sw.stop(), 0);
    }
  });
});
