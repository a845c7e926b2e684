import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { loadCorpus } from '../helpers/corpus.js';
import { assertCalls } from '../helpers/sipp.js';
import { startSipwarden } from '../helpers/sipwarden.js';

/** Sends every datagram from one socket at `from`, then collects replies for `waitMs`. */
function udpSendAll(datagrams: Buffer[], port: number, from: string, waitMs = 500): Promise<Buffer[]> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const replies: Buffer[] = [];
    s.on('message', (m) => replies.push(m));
    s.bind(0, from, () => {
      for (const d of datagrams) s.send(d, port, '127.0.0.1');
      setTimeout(() => {
        s.close();
        resolve(replies);
      }, waitMs);
    });
  });
}

describe('proxy: survives garbage, torture messages and half-open TCP', () => {
  it('answers malformed requests 400, drops the rest, and still completes calls', async () => {
    const sw = await startSipwarden(
      'listen: [udp://127.0.0.1:15660, tcp://127.0.0.1:15660]\nupstreams:\n  - name: pbx\n    targets: [udp://127.0.0.1:15670]\n    ping: false\n',
      { listeners: 2 },
    );
    // Half-open TCP connections: partial headers, then silence.
    const halfOpen = Array.from({ length: 20 }, (_, i) => {
      const c = connect({ host: '127.0.0.1', port: 15660, localAddress: `127.0.1.${i + 1}` });
      c.on('error', () => {});
      c.write('INVITE sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 1.2.3.4;branch=z9hG4bKx\r\nCall-ID: half');
      return c;
    });
    // An oversized stream without a blank line: the connection is closed, not buffered forever.
    const flood = connect({ host: '127.0.0.1', port: 15660, localAddress: '127.0.2.1' });
    flood.on('error', () => {});
    const closed = new Promise<void>((r) => flood.on('close', () => r()));
    flood.write(Buffer.alloc(70_000, 0x41));
    await closed;

    // Garbage datagrams.
    let seed = 42;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const garbage = Array.from({ length: 500 }, () => {
      const b = Buffer.alloc(1 + (rnd() % 1500));
      for (let k = 0; k < b.length; k++) b[k] = rnd() & 0xff;
      return b;
    });
    await udpSendAll(garbage, 15660, '127.0.3.1', 50);
    // Every torture message; invalid requests get a 400 (or 505 for the bad version).
    let badRequests = 0;
    // Each from its own address: a message the scanner guard bans for (escnull's %00 user)
    // must not hide the parser's answers to the others.
    const replies = (
      await Promise.all(loadCorpus().map((e, i) => udpSendAll([e.data], 15660, `127.0.4.${i + 1}`)))
    ).flat();
    for (const r of replies) {
      const line = r.toString('latin1', 0, r.indexOf('\r\n'));
      if (/^SIP\/2\.0 (400|505) /.test(line)) badRequests++;
      assert.ok(!/sipwarden/i.test(r.toString('latin1')), 'replies never name sipwarden');
    }
    assert.ok(badRequests >= 10, `400/505 answers to invalid requests: ${badRequests}`);

    // A legitimate caller still gets through.
    await assertCalls(
      { scenario: 'uas-call.xml', ip: '127.0.0.1', port: 15670, calls: 5 },
      {
        scenario: 'uac-call.xml',
        ip: '127.0.0.2',
        port: 15690,
        remote: '127.0.0.1:15660',
        calls: 5,
        rate: 10,
      },
    );
    for (const c of halfOpen) c.destroy();
    assert.equal(sw.run.proc.exitCode, null, 'still running');
    assert.equal(await sw.stop(), 0);
  });
});
