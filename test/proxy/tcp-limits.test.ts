import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { startSipwarden } from '../helpers/sipwarden.js';

function open(from: string, port: number): Promise<{ socket: Socket; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress: from });
    const started = Date.now();
    const closed = new Promise<number>((r) => socket.on('close', () => r(Date.now() - started)));
    socket.on('error', () => {});
    socket.once('connect', () => resolve({ socket, closed }));
    socket.once('error', reject);
  });
}

describe('proxy: TCP connection limits', () => {
  it('refuses connections over the per-address limit and closes idle ones', async () => {
    const sw = await startSipwarden(
      `listen: [tcp://127.0.0.1:16360]
upstreams:
  - name: pbx
    targets: [udp://127.0.0.1:16370]
    ping: false
tcp: { max_connections_per_ip: 2, idle_timeout: 1s }
`,
      { listeners: 1 },
    );
    const a = await open('127.0.6.1', 16360);
    const b = await open('127.0.6.1', 16360);
    const c = await open('127.0.6.1', 16360); // third from the same address: closed at once
    const other = await open('127.0.6.2', 16360); // another address still gets in
    const cClosedAfter = await c.closed;
    assert.ok(cClosedAfter < 500, `over-limit connection closed at once (${cClosedAfter} ms)`);
    // Keep `a` busy with CRLF keep-alives; `b` and `other` stay silent and hit the idle timeout.
    const pongs: Buffer[] = [];
    a.socket.on('data', (d: Buffer) => pongs.push(d));
    const keepAlive = setInterval(() => a.socket.write('\r\n\r\n'), 300);
    const [bAfter, otherAfter] = await Promise.all([b.closed, other.closed]);
    assert.ok(bAfter >= 900 && bAfter < 3000, `idle connection closed after ~1 s (${bAfter} ms)`);
    assert.ok(otherAfter >= 900 && otherAfter < 3000, `idle connection closed after ~1 s (${otherAfter} ms)`);
    assert.equal(a.socket.destroyed, false, 'a connection sending keep-alives stays open');
    assert.ok(
      pongs.length > 0 && pongs.every((p) => /^(\r\n)+$/.test(p.toString())),
      'CRLFCRLF pings answered with CRLF',
    );
    clearInterval(keepAlive);
    a.socket.destroy();
    assert.equal(await sw.stop(), 0);
  });
});
