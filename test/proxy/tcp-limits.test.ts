import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { StreamFramer } from '../../src/sip/framer.js';
import { PROJECT_ROOT } from '../helpers/corpus.js';
import { Netns, netnsUnavailable } from '../helpers/netns.js';
import { start, waitFor } from '../helpers/process.js';
import { startSipwarden } from '../helpers/sipwarden.js';
import { makeCert, StreamUa } from '../helpers/ua.js';
import { options, sleep, UdpPeer } from '../helpers/udp.js';

function open(from: string, port: number, host = '127.0.0.1'): Promise<{ socket: Socket; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, localAddress: from });
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

// Ports 30100-30199, addresses 127.101.0.x (sipwarden and upstreams) and 127.101.2.x-127.101.3.x (clients).
describe('proxy: connection table exhaustion', () => {
  it('counts TLS sockets from accept: the per-address cap holds during handshakes, which time out', async () => {
    const certs = makeCert(mkdtempSync(join(tmpdir(), 'sipwarden-cert-')));
    const sw = await startSipwarden(
      `listen:
  - url: tls://127.101.0.1:30100
    cert: ${certs.cert}
    key: ${certs.key}
upstreams: [{ name: pbx, targets: ['udp://127.101.0.100:30101'], ping: false }]
tcp: { max_connections_per_ip: 4, tls_handshake_timeout: 1s }
`,
      { listeners: 1 },
    );
    // Ten raw TCP connections from one address that never start a handshake.
    const halfOpen = [];
    for (let i = 0; i < 10; i++) halfOpen.push(await open('127.101.2.1', 30100, '127.101.0.1'));
    // A real TLS client from another address still gets in while they wait.
    const phone = await StreamUa.connect({ tls: true, host: '127.101.0.1', port: 30100, localAddress: '127.101.2.2' });
    const after = await Promise.all(halfOpen.map((c) => Promise.race([c.closed, sleep(5000).then(() => Infinity)])));
    const atOnce = after.filter((ms) => ms < 500);
    const timedOut = after.filter((ms) => ms >= 900 && ms < 3000);
    assert.equal(atOnce.length, 6, `closed at once: ${after.join(', ')} ms`);
    assert.equal(timedOut.length, 4, `closed by the 1 s handshake timeout: ${after.join(', ')} ms`);
    assert.equal(phone.socket.destroyed, false, 'the TLS client from another address is connected');
    // Once the half-open sockets are gone, their address gets its slots back.
    const again = await StreamUa.connect({ tls: true, host: '127.101.0.1', port: 30100, localAddress: '127.101.2.1' });
    await sleep(200);
    assert.equal(again.socket.destroyed, false);
    again.close();
    phone.close();
    await sleep(100);
    assert.equal(await sw.stop(), 0);
    const stopping = sw.logs().find((l) => l.event === 'stopping') as { transport: Record<string, number> };
    assert.equal(stopping.transport.rejectedConnections, 6);
    assert.equal(stopping.transport.tlsHandshakeTimeouts, 4);
  });

  it('keeps slots for upstream connections when the outside fills the table', async () => {
    // A plain TCP server as the upstream: it records every request it is sent.
    const got: string[] = [];
    const upstream = createServer((s) => {
      const framer = new StreamFramer();
      s.on('data', (d: Buffer) => {
        for (const f of framer.push(d)) if (f.kind === 'message') got.push(f.data.toString('latin1'));
      });
      s.on('error', () => {});
    });
    await new Promise<void>((r) => upstream.listen(30111, '127.101.0.100', () => r()));
    const sw = await startSipwarden(
      `listen: [tcp://127.101.0.1:30110, udp://127.101.0.1:30110]
upstreams: [{ name: pbx, targets: ['tcp://127.101.0.100:30111'], ping: false }]
tcp: { max_connections: 20, max_connections_per_ip: 4, upstream_reserve: 2 }
`,
      { listeners: 2 },
    );
    // Five addresses try four connections each: the outside may hold 20 - 2 of them.
    const clients = [];
    for (let a = 1; a <= 5; a++)
      for (let i = 0; i < 4; i++) clients.push(await open(`127.101.3.${a}`, 30110, '127.101.0.1'));
    await sleep(300);
    const refused = clients.filter((c) => c.socket.destroyed).length;
    assert.equal(refused, 2, 'the outside is held to max_connections - upstream_reserve');
    // A request over UDP needs a new TCP connection to the upstream: it still gets one.
    const phone = await UdpPeer.bind('127.101.3.9', 30120);
    await phone.send(options('127.101.3.9', 30120, 'reserve'), 30110, '127.101.0.1');
    await waitFor(
      () => got.some((m) => m.includes('Call-ID: reserve@test')),
      'the request to reach the upstream',
      3000,
    );
    for (const c of clients) c.socket.destroy();
    phone.close();
    assert.equal(await sw.stop(), 0);
    const stopping = sw.logs().find((l) => l.event === 'stopping') as { transport: Record<string, number> };
    assert.equal(stopping.transport.rejectedConnections, 2);
    assert.equal(stopping.transport.unsentMessages, 0);
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  it('counts and reports a request that finds no connection slot (no reserve)', async () => {
    const sw = await startSipwarden(
      `listen: [tcp://127.101.0.1:30130, udp://127.101.0.1:30130]
upstreams: [{ name: pbx, targets: ['tcp://127.101.0.100:30131'], ping: false }]
tcp: { max_connections: 8, max_connections_per_ip: 4, upstream_reserve: 0 }
`,
      { listeners: 2 },
    );
    const clients = [];
    for (let a = 1; a <= 2; a++)
      for (let i = 0; i < 4; i++) clients.push(await open(`127.101.3.${a}`, 30130, '127.101.0.1'));
    await sleep(300);
    assert.equal(clients.filter((c) => c.socket.destroyed).length, 0, 'the outside took every slot');
    const phone = await UdpPeer.bind('127.101.3.9', 30132);
    await phone.send(options('127.101.3.9', 30132, 'no-slot'), 30130, '127.101.0.1');
    await waitFor(() => sw.logs().some((l) => l.event === 'connection-refused'), 'the refusal to be logged', 3000);
    const line = sw.logs().find((l) => l.event === 'connection-refused')!;
    assert.equal(line.destination, '127.101.0.100');
    assert.equal(line.port, 30131);
    for (const c of clients) c.socket.destroy();
    phone.close();
    assert.equal(await sw.stop(), 0);
    const stopping = sw.logs().find((l) => l.event === 'stopping') as { transport: Record<string, number> };
    assert.equal(stopping.transport.unsentMessages, 1);
    assert.equal(stopping.transport.refusedOutbound, 1);
  });
});

// Loopback routes only ::1, so the IPv6 test runs in a network namespace of its own, with
// addresses of two /64s on its loopback: sipwarden and the clients both inside it.
describe('proxy: IPv6 connection limits', { skip: netnsUnavailable() }, () => {
  it('counts one /64 as one address for max_connections_per_ip', async () => {
    const ns = new Netns();
    for (const a of ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2::3', '2001:db8:1:3::1', '2001:db8:1:9::1']) {
      ns.mustExec('ip', ['-6', 'addr', 'add', `${a}/128`, 'dev', 'lo', 'nodad']);
    }
    const dir = mkdtempSync(join(tmpdir(), 'sipwarden-v6-'));
    const file = join(dir, 'sipwarden.yaml');
    writeFileSync(
      file,
      `data_dir: ${dir}/data
listen: ['tcp://[2001:db8:1:9::1]:30140']
upstreams: [{ name: pbx, targets: ['udp://[2001:db8:1:9::1]:30141'], ping: false }]
tcp: { max_connections_per_ip: 2 }
`,
    );
    const sw = start('ip', [
      'netns',
      'exec',
      ns.name,
      process.execPath,
      join(PROJECT_ROOT, 'bin/sipwarden'),
      'run',
      '--config',
      file,
    ]);
    try {
      await waitFor(() => sw.output().includes('"event":"listening"') || sw.proc.exitCode !== null, 'sipwarden');
      assert.equal(sw.proc.exitCode, null, sw.output());
      // One connection from each address, in order; each state read half a second later.
      const client = `const net = require('net');
const from = ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2::3', '2001:db8:1:3::1'];
const state = [];
const sockets = [];
(async () => {
  for (const a of from) {
    await new Promise((r) => {
      const i = state.push('open') - 1;
      const s = net.connect({ host: '2001:db8:1:9::1', port: 30140, localAddress: a });
      s.on('close', () => { state[i] = 'closed'; });
      s.on('error', () => {});
      s.once('connect', r);
      setTimeout(r, 1000);
      sockets.push(s);
    });
  }
  setTimeout(() => { console.log(JSON.stringify(state)); for (const s of sockets) s.destroy(); }, 500);
})();`;
      const state = JSON.parse(ns.mustExec(process.execPath, ['-e', client])) as string[];
      assert.deepEqual(state, ['open', 'open', 'closed', 'open'], 'the third address of 2001:db8:1:2::/64 is refused');
    } finally {
      sw.signal('SIGTERM');
      assert.equal(await sw.exited, 0);
      ns.delete();
    }
    assert.match(sw.output(), /"rejectedConnections":1\b/);
  });
});
