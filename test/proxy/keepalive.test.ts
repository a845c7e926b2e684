import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { waitFor } from '../helpers/process.js';
import { startSipwarden } from '../helpers/sipwarden.js';
import { options, sleep, UdpPeer } from '../helpers/udp.js';
import { cpuSeconds, rssBytes } from '../helpers/usage.js';

// Ports 30000-30099, addresses 127.101.0.x (sipwarden and upstreams) and 127.101.1.x (clients).

interface Client {
  socket: Socket;
  closed: Promise<void>;
  isClosed: () => boolean;
}

function open(from: string, port: number): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.101.0.1', port, localAddress: from });
    let closed = false;
    const done = new Promise<void>((r) =>
      socket.on('close', () => {
        closed = true;
        r();
      }),
    );
    socket.once('connect', () => {
      socket.on('error', () => {});
      resolve({ socket, closed: done, isClosed: () => closed });
    });
    socket.once('error', reject);
  });
}

/** Writes `chunk` until `total` bytes are written, the socket closes or `ms` pass; returns the bytes written. */
async function pump(c: Client, chunk: Buffer, total: number, ms: number): Promise<number> {
  const deadline = Date.now() + ms;
  let sent = 0;
  while (sent < total && Date.now() < deadline && !c.isClosed()) {
    if (!c.socket.write(chunk)) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, 200);
        c.socket.once('drain', () => {
          clearTimeout(t);
          r();
        });
      });
    }
    sent += chunk.length;
  }
  return sent;
}

function overTcp(from: string, port: number, tag: string): string {
  return options(from, port, tag).replace('SIP/2.0/UDP', 'SIP/2.0/TCP');
}

/** The counters sipwarden logs when it stops. */
interface Stopping {
  stats: Record<string, unknown>;
  transport: Record<string, number>;
}

function stoppingStats(logs: Array<Record<string, unknown>>): Stopping {
  const l = logs.find((e) => e.event === 'stopping');
  assert.ok(l, 'a stopping line with the counters');
  return l as unknown as Stopping;
}

describe('proxy: CRLF keep-alives', () => {
  it('a keep-alive flood on a connection that never reads costs bounded CPU and memory', async () => {
    // Flood guard out of the way: this is about what each ping costs, not about banning.
    const sw = await startSipwarden(
      `listen: [tcp://127.101.0.1:30000]
upstreams: [{ name: pbx, targets: ['udp://127.101.0.100:30001'], ping: false }]
guards: { flood: { max_messages: 10000000 } }
`,
      { listeners: 1 },
    );
    const pid = sw.run.proc.pid!;
    await sleep(300);
    const cpu0 = cpuSeconds(pid);
    const rss0 = rssBytes(pid);
    const c = await open('127.101.1.1', 30000);
    c.socket.pause(); // never reads: pongs could only pile up in sipwarden
    const started = Date.now();
    const total = 16 * 1024 * 1024;
    const sent = await pump(c, Buffer.from('\r\n\r\n'.repeat(16_384)), total, 30_000);
    assert.equal(sent, total, 'all 16 MiB of pings written within 30 s');
    await sleep(1000);
    const cpu = cpuSeconds(pid) - cpu0;
    const rss = rssBytes(pid) - rss0;
    const seconds = (Date.now() - started) / 1000;
    // Before the limits: 16 MiB of pings cost 3.5 s of CPU and 180 MB of memory.
    assert.ok(cpu < 1, `CPU time for 4 million pings: ${cpu.toFixed(2)} s`);
    assert.ok(rss < 64 * 1024 * 1024, `RSS growth: ${(rss / 1048576).toFixed(1)} MB`);
    let pongBytes = 0;
    c.socket.on('data', (d: Buffer) => {
      pongBytes += d.length;
    });
    c.socket.resume();
    await sleep(300);
    // Default tcp.pongs_per_second: 2.
    assert.ok(pongBytes > 0, 'pings were answered');
    assert.ok(pongBytes <= 2 * 2 * Math.ceil(seconds + 1), `${pongBytes / 2} pongs in ${seconds.toFixed(1)} s`);
    assert.equal(c.isClosed(), false, 'a keep-alive connection is not closed for pinging');
    c.socket.destroy();
    assert.equal(await sw.stop(), 0);
    const { stats, transport } = stoppingStats(sw.logs());
    assert.equal(stats.keepAlives, total / 4);
    assert.equal(transport.pingsUnanswered, total / 4 - pongBytes / 2);
  });

  it('closes a connection whose unsent output passes tcp.max_pending_output', async () => {
    // The upstream answers every request with a 60 kB response: a client that sends requests
    // but never reads makes sipwarden's output to it grow.
    const body = 'x'.repeat(60_000);
    const upstream = await UdpPeer.bind('127.101.0.100', 30011);
    upstream.socket.on('message', (m, r) => {
      const text = m.toString('latin1');
      const keep = text.split('\r\n').filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l));
      const reply = [
        'SIP/2.0 200 OK',
        ...keep.map((l) => (l.startsWith('To:') ? `${l};tag=big` : l)),
        'Content-Type: text/plain',
        `Content-Length: ${body.length}`,
        '',
        body,
      ].join('\r\n');
      upstream.socket.send(reply, r.port, r.address);
    });
    const sw = await startSipwarden(
      `listen: [tcp://127.101.0.1:30010, udp://127.101.0.1:30010]
upstreams: [{ name: pbx, targets: ['udp://127.101.0.100:30011'], ping: false }]
tcp: { max_pending_output: 65536 }
guards: { flood: { max_messages: 10000000 } }
`,
      { listeners: 2 },
    );
    const c = await open('127.101.1.2', 30010);
    c.socket.pause();
    const port = c.socket.localPort!;
    // 1000 answers of 60 kB are 60 MB: far more than the kernel buffers on both sides hold.
    let n = 0;
    const deadline = Date.now() + 30_000;
    while (n < 1000 && !c.isClosed() && Date.now() < deadline) {
      c.socket.write(overTcp('127.101.1.2', port, `big${n++}`));
      if (n % 20 === 0) await sleep(20);
    }
    await Promise.race([c.closed, sleep(5000)]);
    assert.ok(c.isClosed(), `the connection was closed (after ${n} requests)`);
    assert.ok(upstream.received.length > 0, 'the requests were forwarded');
    assert.equal(await sw.stop(), 0);
    const { transport } = stoppingStats(sw.logs());
    // Later answers of the flow may try new connections to the client; they overflow too.
    assert.ok(transport.outputOverflows >= 1, `connections closed for their output: ${transport.outputOverflows}`);
    assert.ok(transport.unsentMessages >= 1, 'the answer that did not fit was counted');
    upstream.close();
  });

  it('keep-alives count toward flood: a pinging source is banned, closed and not forwarded', async () => {
    const catcher = await UdpPeer.bind('127.101.0.100', 30021);
    const sw = await startSipwarden(
      `listen: [tcp://127.101.0.1:30020, udp://127.101.0.1:30020]
upstreams: [{ name: pbx, targets: ['udp://127.101.0.100:30021'], ping: false }]
guards: { flood: { window: 2s, max_messages: 20, ban: 1m } }
`,
      { listeners: 2 },
    );
    const phone = await UdpPeer.bind('127.101.1.3', 30030);
    const forwarded = (tag: string) => catcher.matching(`Call-ID: ${tag}@test`).length;
    await phone.send(options('127.101.1.3', 30030, 'before'), 30020, '127.101.0.1');
    await waitFor(() => forwarded('before') === 1, 'a request before the flood to be forwarded', 3000);

    // One ping per write, 50 ms apart: 20 in 2 s is the limit.
    const c = await open('127.101.1.3', 30020);
    let pongs = 0;
    c.socket.on('data', (d: Buffer) => {
      pongs += d.length / 2;
    });
    let pings = 0;
    while (pings < 100 && !c.isClosed()) {
      c.socket.write('\r\n\r\n');
      pings++;
      await sleep(50);
    }
    await Promise.race([c.closed, sleep(2000)]);
    assert.ok(c.isClosed(), 'the ban closed the pinging connection');
    assert.ok(pings <= 25, `banned after ${pings} pings`);
    assert.ok(pongs >= 1 && pongs <= pings, `${pongs} pongs`);
    const ban = sw.logs().find((l) => l.event === 'ban' && l.source === '127.101.1.3');
    assert.equal(ban?.guard, 'flood');

    // Its next request is not forwarded, over UDP or over a new connection.
    await phone.send(options('127.101.1.3', 30030, 'after'), 30020, '127.101.0.1');
    const again = await open('127.101.1.3', 30020).catch(() => undefined);
    if (again !== undefined) {
      again.socket.write(overTcp('127.101.1.3', again.socket.localPort!, 'after-tcp'));
      await Promise.race([again.closed, sleep(1000)]);
      assert.ok(again.isClosed(), 'a new connection from the banned source is closed');
    }
    // A UDP keep-alive flood from another address is banned the same way.
    const other = await UdpPeer.bind('127.101.1.4', 30031);
    await other.send(options('127.101.1.4', 30031, 'other-before'), 30020, '127.101.0.1');
    await waitFor(() => forwarded('other-before') === 1, 'the other source to be forwarded', 3000);
    for (let i = 0; i < 40; i++) await other.send('\r\n\r\n', 30020, '127.101.0.1');
    await waitFor(
      () => sw.logs().some((l) => l.event === 'ban' && l.source === '127.101.1.4'),
      'the UDP keep-alive flood to be banned',
      3000,
    );
    await other.send(options('127.101.1.4', 30031, 'other-after'), 30020, '127.101.0.1');
    // A bulk write of 10 000 pings in one chunk from a third address is banned too.
    const bulk = await open('127.101.1.5', 30020);
    bulk.socket.write('\r\n\r\n'.repeat(10_000));
    await Promise.race([bulk.closed, sleep(2000)]);
    assert.ok(bulk.isClosed(), 'a bulk of pings gets its source banned and closed');
    await sleep(500);
    assert.equal(forwarded('after'), 0, 'the banned source is not forwarded (UDP)');
    assert.equal(forwarded('after-tcp'), 0, 'the banned source is not forwarded (TCP)');
    assert.equal(forwarded('other-after'), 0, 'the UDP keep-alive flooder is not forwarded');
    assert.equal(await sw.stop(), 0);
    const { transport } = stoppingStats(sw.logs());
    assert.ok(transport.closedByBan >= 2, `connections closed by bans: ${transport.closedByBan}`);
    phone.close();
    other.close();
    catcher.close();
  });
});
