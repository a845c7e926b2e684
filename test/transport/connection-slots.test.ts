import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import type { ListenerInfo } from '../../src/net/peer.js';
import { DEFAULT_LIMITS } from '../../src/sip/limits.js';
import { ConnectionSlots, type SlotLimits } from '../../src/transport/slots.js';
import { type StreamOptions, StreamTransport } from '../../src/transport/stream.js';

const LIMITS: SlotLimits = { maxConnections: 10, maxConnectionsPerIp: 2, upstreamReserve: 2, ipv6Prefix: 64 };

function takeAll(slots: ConnectionSlots, addresses: string[]): boolean[] {
  return addresses.map((a) => slots.take('outside', a) !== undefined);
}

describe('ConnectionSlots', () => {
  it('counts IPv6 sources per prefix: one /64 shares the per-address limit', () => {
    const slots = new ConnectionSlots(LIMITS);
    assert.deepEqual(
      takeAll(slots, [
        '2001:db8:1:2::1',
        '2001:db8:1:2::2',
        '2001:db8:1:2:ffff::3',
        '2001:db8:1:3::1',
        '2001:db8:1:3::2',
      ]),
      [true, true, false, true, true],
    );
    // IPv4 per address.
    assert.deepEqual(takeAll(slots, ['192.0.2.1', '192.0.2.1', '192.0.2.1', '192.0.2.2']), [true, true, false, true]);
    const perAddress = new ConnectionSlots({ ...LIMITS, ipv6Prefix: 128 });
    assert.deepEqual(takeAll(perAddress, ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2::3']), [
      true,
      true,
      true,
    ]);
  });

  it('holds the outside to max_connections - upstream_reserve; upstream connections may use the reserve', () => {
    const slots = new ConnectionSlots(LIMITS);
    const outside = Array.from({ length: 10 }, (_, i) => slots.take('outside', `192.0.2.${i}`));
    assert.equal(outside.filter((s) => s !== undefined).length, 8);
    assert.ok(slots.take('upstream', '10.0.0.1'));
    assert.ok(slots.take('upstream', '10.0.0.1'));
    assert.equal(slots.take('upstream', '10.0.0.1'), undefined, 'the table is full');
    slots.release(outside[0]!);
    slots.release(outside[0]!); // releasing twice changes nothing
    assert.equal(slots.outsideCount, 7);
    assert.ok(slots.take('upstream', '10.0.0.2'), 'upstream connections may take any free slot');
    assert.equal(slots.take('outside', '192.0.2.0'), undefined, 'the table is full again');
    assert.equal(slots.upstreamCount, 3);
  });

  it('finds the connections a ban may cover', () => {
    const slots = new ConnectionSlots(LIMITS);
    const a = slots.take('outside', '2001:db8:1:2::1')!;
    const b = slots.take('outside', '2001:db8:1:2::2')!;
    const c = slots.take('outside', '192.0.2.7')!;
    assert.deepEqual([...slots.candidates('2001:db8:1:2::1')], [a, b], 'an address: its /64');
    assert.deepEqual([...slots.candidates('2001:db8:1:2::/64')], [a, b], 'the /64 itself');
    assert.deepEqual([...slots.candidates('2001:db8::/32')], [a, b, c], 'a wider network: every slot');
    assert.deepEqual([...slots.candidates('192.0.2.8')], []);
  });
});

function listener(port: number): ListenerInfo {
  return { index: 0, transport: 'tcp', address: '::1', port, family: 6, sipHost: '[::1]', sipPort: port };
}

function options(overrides: Partial<StreamOptions>): StreamOptions {
  return {
    idleTimeoutMs: 10_000,
    connectTimeoutMs: 1000,
    tlsHandshakeTimeoutMs: 1000,
    maxConnections: 100,
    maxConnectionsPerIp: 2,
    upstreamReserve: 0,
    ipv6Prefix: 64,
    maxPendingOutput: 65_536,
    pongsPerSecond: 2,
    limits: DEFAULT_LIMITS,
    ...overrides,
  };
}

function dial(port: number): Promise<{ socket: Socket; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '::1', port });
    const t0 = Date.now();
    const closed = new Promise<number>((r) => socket.on('close', () => r(Date.now() - t0)));
    socket.once('connect', () => {
      socket.on('error', () => {});
      resolve({ socket, closed });
    });
    socket.once('error', reject);
  });
}

// Real sockets on ::1 (the one IPv6 address loopback routes), ports 30200-30209.
describe('StreamTransport over IPv6', () => {
  it('applies the per-address limit to an IPv6 source by its prefix and closes banned connections', async () => {
    const keepAlives: number[] = [];
    const t = new StreamTransport(
      options({}),
      () => {},
      (_peer, count) => {
        keepAlives.push(count);
        return keepAlives.length < 3;
      },
      () => {},
    );
    await t.listen(listener(30200));
    const a = await dial(30200);
    const b = await dial(30200);
    const c = await dial(30200);
    const over = await Promise.race([c.closed, new Promise<number>((r) => setTimeout(() => r(Infinity), 2000))]);
    assert.ok(over < 500, 'a third connection from ::/64 is closed at once');
    assert.equal(t.rejectedConnections, 1);
    assert.equal(t.outsideConnections, 2);
    // Pongs: one per run of pings, none once the keep-alive handler refuses.
    const pongs: string[] = [];
    a.socket.on('data', (d: Buffer) => pongs.push(d.toString('latin1')));
    a.socket.write('\r\n\r\n\r\n\r\n\r\n\r\n');
    await new Promise((r) => setTimeout(r, 100));
    a.socket.write('\r\n\r\n');
    await new Promise((r) => setTimeout(r, 100));
    a.socket.write('\r\n\r\n');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(keepAlives, [3, 1, 1]);
    assert.equal(pongs.join(''), '\r\n\r\n', 'two pongs: the third run was refused');
    assert.equal(t.pingsUnanswered, 3);
    // A ban of the /64 closes both connections.
    t.refuseConnection = (address) => address === '::1';
    assert.equal(t.closeBanned('::/64'), 2);
    await Promise.all([a.closed, b.closed]);
    for (let i = 0; i < 50 && t.outsideConnections > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(t.outsideConnections, 0, 'their slots are free again');
    await t.close();
  });

  it('closes a connection whose unsent output passes the bound', async () => {
    const t = new StreamTransport(
      options({ maxPendingOutput: 65_536 }),
      () => {},
      () => true,
      () => {},
    );
    await t.listen(listener(30201));
    const a = await dial(30201);
    a.socket.pause();
    await new Promise((r) => setTimeout(r, 100));
    // The peer never reads: kernel buffers fill, then sipwarden's own.
    const data = Buffer.alloc(32_768, 0x61);
    let writes = 0;
    while (writes < 2000 && t.outputOverflows === 0 && t.unsentMessages === 0) {
      t.sendTo('tcp', '::1', a.socket.localPort!, 6, 0, data);
      writes++;
      if (writes % 50 === 0) await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(writes < 2000, `the bound was reached after ${writes} writes`);
    assert.equal(t.unsentMessages, 1);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(t.outputOverflows, 1);
    a.socket.destroy();
    await t.close();
  });
});
