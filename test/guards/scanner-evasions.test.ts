/**
 * Evasions of the scanner guard and the parser's list limit, performed for real against a
 * running sipwarden over UDP: each attacker is a socket on its own loopback address, the PBX
 * a UDP socket (or a sipp UAS) that records what reaches it.
 *
 * - padding: a Record-Route naming sipwarden as the 17th entry, SQL injection in the 17th
 *   Proxy-Authorization, SQL injection after 512 characters;
 * - long lists: 2,000 Record-Route, Via, Contact or Route entries in one datagram;
 * - forged Record-Route: a top entry that is not the sender, any Record-Route on a REGISTER;
 *   and the phones and trunks that record-route correctly, which still pass.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/process.js';
import { sipp } from '../helpers/sipp.js';
import { type SipwardenInstance, startSipwarden } from '../helpers/sipwarden.js';
import { sleep, UdpPeer } from '../helpers/udp.js';

const SW = '127.105.0.1';
const PORT = 34000;
const PBX = '127.105.0.2';
const PBX_PORT = 34001;

const config = [
  `listen: [udp://${SW}:${PORT}]`,
  `upstreams: [{ name: pbx, targets: ["udp://${PBX}:${PBX_PORT}"], ping: false }]`,
  'log: { level: debug }',
  'replies: { bad_request_per_second: 1000 }',
  'guards:',
  '  scanner:',
  '    record_route_hosts: [sbc.trunk.example]',
].join('\n');

/** A request from `from:port` with these extra header lines. */
function request(method: string, from: string, port: number, tag: string, extra: string[] = []): string {
  const uri = method === 'REGISTER' ? 'sip:example.com' : 'sip:100@example.com';
  return [
    `${method} ${uri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${from}:${port};branch=z9hG4bK${tag};rport`,
    `From: <sip:200@example.com>;tag=${tag}`,
    `To: <sip:${method === 'REGISTER' ? '200' : '100'}@example.com>`,
    `Call-ID: ${tag}@test`,
    `CSeq: 1 ${method}`,
    'Max-Forwards: 70',
    `Contact: <sip:200@${from}:${port}>`,
    ...extra,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

const digest = (username: string) =>
  `Digest username="${username}", realm="example.com", nonce="1a2b3c", uri="sip:example.com", response="0123456789abcdef0123456789abcdef"`;

/** `count` entries of a list header, 250 to a line (each line within max_header_bytes). */
function listLines(name: string, count: number, entry: (i: number) => string): string[] {
  const lines: string[] = [];
  for (let i = 0; i < count; i += 250) {
    const n = Math.min(250, count - i);
    lines.push(`${name}: ${Array.from({ length: n }, (_, k) => entry(i + k)).join(', ')}`);
  }
  return lines;
}

describe('scanner evasions over real UDP (padding, long lists, forged Record-Route)', () => {
  let sw: SipwardenInstance;
  let pbx: UdpPeer;
  let next = 1;

  /**
   * Sends one request from a fresh address; returns whether the PBX got it and what came
   * back. `build` gets the address and port of the sending socket.
   */
  async function send(method: string, tag: string, extra: (from: string, port: number) => string[]) {
    const from = `127.105.1.${next++}`;
    const peer = await UdpPeer.bind(from);
    try {
      const data = request(method, from, peer.port, tag, extra(from, peer.port));
      await peer.send(data, PORT, SW);
      await sleep(200);
      return {
        from,
        bytes: Buffer.byteLength(data),
        forwarded: pbx.matching(`tag=${tag}`).length > 0,
        answers: peer.received.map((r) => r.data.slice(0, r.data.indexOf('\r\n'))),
      };
    } finally {
      peer.close();
    }
  }

  /** The guard log line of a blocked request from `from` (debug level), once written. */
  async function blockedRule(from: string): Promise<string> {
    const find = () => sw.logs().find((l) => (l.msg === 'blocked' || l.event === 'ban') && l.source === from);
    await waitFor(() => find() !== undefined, `the block of ${from} to be logged`, 3000);
    return String(find()!.rule);
  }

  before(async () => {
    pbx = await UdpPeer.bind(PBX, PBX_PORT);
    sw = await startSipwarden(config, { listeners: 1 });
  });
  after(async () => {
    pbx?.close();
    await sw?.stop();
  });

  it('a clean INVITE and REGISTER are forwarded (the baseline)', async () => {
    assert.equal((await send('INVITE', 'base1', () => [])).forwarded, true);
    assert.equal((await send('REGISTER', 'base2', () => [])).forwarded, true);
  });

  it('a Record-Route naming sipwarden as the 17th entry is refused', async () => {
    const r = await send('INVITE', 'rr17', (from) => [
      `Record-Route: <sip:${from};lr>`,
      ...Array.from({ length: 15 }, (_, i) => `Record-Route: <sip:192.0.2.${i + 1};lr>`),
      `Record-Route: <sip:${SW}:${PORT};lr>`,
    ]);
    assert.equal(r.forwarded, false);
    assert.equal(await blockedRule(r.from), 'record-route-spoofing');
  });

  it('SQL injection in the 17th Proxy-Authorization is refused, and the source banned', async () => {
    const r = await send('REGISTER', 'pa17', () => [
      ...Array.from({ length: 16 }, (_, i) => `Proxy-Authorization: ${digest(`user${i}`)}`),
      `Proxy-Authorization: ${digest("admin' or '1'='1")}`,
    ]);
    assert.equal(r.forwarded, false);
    assert.equal(await blockedRule(r.from), 'sql-injection');
  });

  it('SQL injection after 512 characters of padding is refused (From user, digest username)', async () => {
    const pad = 'a'.repeat(512);
    const from = `127.105.1.${next++}`;
    const peer = await UdpPeer.bind(from);
    try {
      // The From itself carries the padded injection (not an extra line).
      const data = request('INVITE', from, peer.port, 'pad2').replace(
        'From: <sip:200@example.com>;tag=pad2',
        `From: <sip:${pad}'or'1'='1@example.com>;tag=pad2`,
      );
      await peer.send(data, PORT, SW);
      await sleep(200);
      assert.equal(pbx.matching('tag=pad2').length, 0);
      assert.equal(await blockedRule(from), 'overlong-value');
    } finally {
      peer.close();
    }
    const r = await send('REGISTER', 'pad3', () => [`Authorization: ${digest(`${pad}' or '1'='1`)}`]);
    assert.equal(r.forwarded, false);
    assert.equal(await blockedRule(r.from), 'overlong-value');
  });

  for (const [name, entry] of [
    ['Record-Route', (i: number) => `<sip:10.${i >> 8}.${i & 255}.1:5060;lr>`],
    ['Via', (i: number) => `SIP/2.0/UDP 10.${i >> 8}.${i & 255}.1:5060`],
    ['Contact', (i: number) => `<sip:u${i}@10.${i >> 8}.${i & 255}.1:5060>`],
    ['Route', (i: number) => `<sip:10.${i >> 8}.${i & 255}.1:5060;lr>`],
  ] as const) {
    it(`a datagram with 2,000 ${name} entries is answered 400 and never forwarded`, async () => {
      const r = await send('INVITE', `long${name}`, (from) => [
        ...(name === 'Record-Route' ? [`Record-Route: <sip:${from};lr>`] : []),
        ...listLines(name, 2000, entry),
      ]);
      assert.ok(r.bytes > 40_000 && r.bytes < 65_535, `${r.bytes} bytes`);
      assert.equal(r.forwarded, false);
      assert.deepEqual(r.answers, [`SIP/2.0 400 Too Many ${name} Entries`]);
    });
  }

  it('one entry over max_list_entries (65 Record-Route entries) is answered 400; 64 are read and pass', async () => {
    const entries = (from: string, n: number) => [
      `Record-Route: <sip:${from};lr>`,
      ...listLines('Record-Route', n - 1, (i) => `<sip:192.0.2.${(i % 250) + 1};lr>`),
    ];
    const at = await send('INVITE', 'rr64', (from) => entries(from, 64));
    assert.equal(at.forwarded, true, 'at the limit');
    const over = await send('INVITE', 'rr65', (from) => entries(from, 65));
    assert.equal(over.forwarded, false);
    assert.deepEqual(over.answers, ['SIP/2.0 400 Too Many Record-Route Entries']);
  });

  it('a top Record-Route that is not the sender is refused', async () => {
    const r = await send('INVITE', 'foreign1', () => ['Record-Route: <sip:127.0.0.98:5099;lr>']);
    assert.equal(r.forwarded, false);
    assert.equal(await blockedRule(r.from), 'record-route-foreign');
    // The sender below a forged top entry does not help.
    const below = await send('INVITE', 'foreign2', (from) => [`Record-Route: <sip:127.0.0.98;lr>, <sip:${from};lr>`]);
    assert.equal(below.forwarded, false);
    // A host name nobody listed.
    const named = await send('INVITE', 'foreign3', () => ['Record-Route: <sip:sbc.elsewhere.example;lr>']);
    assert.equal(named.forwarded, false);
    assert.equal(await blockedRule(named.from), 'record-route-foreign');
  });

  it('a REGISTER carrying Record-Route is refused, even one naming its sender', async () => {
    const r = await send('REGISTER', 'regrr1', () => ['Record-Route: <sip:127.0.0.98:5099;lr>']);
    assert.equal(r.forwarded, false);
    assert.equal(await blockedRule(r.from), 'record-route-register');
    const own = await send('REGISTER', 'regrr2', (from, port) => [`Record-Route: <sip:${from}:${port};lr>`]);
    assert.equal(own.forwarded, false);
    assert.equal(await blockedRule(own.from), 'record-route-register');
  });

  it('trunks that record-route correctly pass: their own address (any port), a listed host name', async () => {
    const ip = await send('INVITE', 'trunk1', (from) => [`Record-Route: <sip:${from}:5080;transport=udp;lr;ftag=x>`]);
    assert.equal(ip.forwarded, true);
    const below = await send('INVITE', 'trunk2', (from) => [
      `Record-Route: <sip:${from};lr>`,
      'Record-Route: <sip:203.0.113.7;lr>, <sip:proxy.carrier.example;lr>',
    ]);
    assert.equal(below.forwarded, true, 'proxies before the sender may be anything');
    const named = await send('INVITE', 'trunk3', () => ['Record-Route: <sip:SBC.trunk.example;lr;r2=on>']);
    assert.equal(named.forwarded, true, 'record_route_hosts lists it');
  });

  it('a sipp trunk placing a call with a Record-Route naming itself completes it', async () => {
    pbx.close();
    const uas = sipp({ scenario: 'uas-call.xml', ip: PBX, port: PBX_PORT, calls: 2, timeoutSec: 30 });
    await sleep(300);
    const uac = sipp({
      scenario: 'uac-call-record-route.xml',
      ip: '127.105.2.1',
      port: 34010,
      remote: `${SW}:${PORT}`,
      calls: 2,
      rate: 2,
      timeoutSec: 30,
    });
    const a = await uac.result;
    const b = await uas.result;
    pbx = await UdpPeer.bind(PBX, PBX_PORT);
    assert.equal(a.successful, 2, a.output);
    assert.equal(a.failed, 0, a.output);
    assert.equal(b.successful, 2, b.output);
    assert.equal(
      sw.logs().filter((l) => l.source === '127.105.2.1' && (l.msg === 'blocked' || l.event === 'ban')).length,
      0,
    );
  });

  it('counts every refused long list as malformed (too-many-entries) and answered 400', async () => {
    await sw.stop();
    const line = sw.logs().find((l) => l.event === 'stopping');
    assert.ok(line !== undefined, 'the stopping line with the counters');
    const stats = line.stats as { malformed: Record<string, number>; replies: Record<string, number> };
    assert.equal(stats.malformed['too-many-entries'], 5, JSON.stringify(stats));
    assert.ok((stats.replies['400'] ?? 0) >= 5, JSON.stringify(stats));
  });
});
