/**
 * Regression tests for the response path and Via handling (docs/security.md): each test
 * performs the attack against a running sipwarden over real sockets and shows it fails.
 * Ports 37000-37199, attacker addresses 127.108.x.x.
 */
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/process.js';
import { type SipwardenInstance, startSipwarden } from '../helpers/sipwarden.js';
import { sleep, UdpPeer } from '../helpers/udp.js';

const CRLF = '\r\n';

function invite(via: string, callId: string, extra: string[] = [], ruri = 'sip:100@127.0.0.1:37060'): string {
  return [
    `INVITE ${ruri} SIP/2.0`,
    `Via: ${via}`,
    'Max-Forwards: 70',
    `From: <sip:200@example.com>;tag=f-${callId}`,
    'To: <sip:100@example.com>',
    `Call-ID: ${callId}`,
    'CSeq: 1 INVITE',
    'Contact: <sip:200@127.108.0.1:37090>',
    ...extra,
    'Content-Length: 0',
    '',
    '',
  ].join(CRLF);
}

/** A TCP server that records every connection and byte it gets: the SSRF catcher. */
async function catcher(host: string, port: number): Promise<{ server: Server; connections: number; bytes: string }> {
  const state = { server: undefined as unknown as Server, connections: 0, bytes: '' };
  state.server = createServer((s: Socket) => {
    state.connections++;
    s.on('data', (d) => {
      state.bytes += d.toString('latin1');
    });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => state.server.listen(port, host, () => r()));
  return state;
}

/** The response an upstream would send for `req` (as received by it): all Vias copied. */
function responseTo(req: string, status: string, extra: string[] = []): string {
  const head = req.split(CRLF + CRLF)[0]!.split(CRLF);
  const keep = head.filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l));
  return [
    `SIP/2.0 ${status}`,
    ...keep.map((l) => (l.startsWith('To:') ? `${l};tag=uas` : l)),
    ...extra,
    'Content-Length: 0',
    '',
    '',
  ].join(CRLF);
}

describe('proxy: forged responses and Via values from the outside', () => {
  let sw: SipwardenInstance;
  let pbx: UdpPeer;
  before(async () => {
    pbx = await UdpPeer.bind('127.0.0.1', 37070);
    sw = await startSipwarden(
      `listen: [udp://127.0.0.1:37060, tcp://127.0.0.1:37060]
upstreams:
  - name: pbx
    targets: [udp://127.0.0.1:37070]
    ping: false
guards: { chain: [acl, bans, flood] }
`,
      { listeners: 2 },
    );
  });
  after(async () => {
    pbx.close();
    await sw.stop();
  });

  it('never opens a connection to a port named by a forged response (SSRF)', async () => {
    const redis = await catcher('127.0.0.1', 37079);
    const attacker = await UdpPeer.bind('127.108.0.1');
    try {
      const body = 'CONFIG SET dir /tmp\r\nSET x y\r\n';
      for (const branch of ['z9hG4bKsw1o569lu339p', 'z9hG4bKsw1o569lu339p.AAAAAAAAAAAAAAAA', 'z9hG4bKsw-ping0x1']) {
        const forged = [
          'SIP/2.0 200 OK',
          `Via: SIP/2.0/UDP 127.0.0.1:37060;branch=${branch};sw=c1-1`,
          'Via: SIP/2.0/TCP 127.0.0.1:37079;branch=z9hG4bKvictim',
          'From: <sip:a@x>;tag=1',
          'To: <sip:b@x>;tag=2',
          'Call-ID: ssrf',
          'CSeq: 1 INVITE',
          `Content-Length: ${body.length}`,
          '',
          body,
        ].join(CRLF);
        await attacker.send(forged, 37060);
      }
      // A real transaction's branch, with the Via under it pointed at the catcher.
      await attacker.send(
        invite(`SIP/2.0/UDP 127.108.0.1:${attacker.port};branch=z9hG4bKreal1;rport`, 'real-1'),
        37060,
      );
      await waitFor(() => pbx.matching('real-1').length > 0, 'the INVITE to reach the upstream');
      const seen = pbx.matching('real-1')[0]!;
      const ours = seen.split(CRLF).find((l) => l.startsWith('Via:'))!;
      const forged = [
        'SIP/2.0 200 OK',
        ours,
        'Via: SIP/2.0/TCP 127.0.0.1:37079;branch=z9hG4bKreal1;received=127.0.0.1;rport=37079',
        'From: <sip:200@example.com>;tag=f-real-1',
        'To: <sip:100@example.com>;tag=x',
        'Call-ID: real-1',
        'CSeq: 1 INVITE',
        `Content-Length: ${body.length}`,
        '',
        body,
      ].join(CRLF);
      await pbx.send(forged, 37060); // even from the upstream itself
      await attacker.send(forged, 37060);
      await sleep(500);
      assert.equal(redis.connections, 0, 'sipwarden connected to the catcher');
      assert.equal(redis.bytes, '');
      // Control: the upstream's genuine answer reaches the phone.
      await pbx.send(responseTo(seen, '180 Ringing'), 37060);
      await waitFor(() => attacker.matching('180 Ringing').length === 1, 'the genuine 180');
    } finally {
      attacker.close();
      redis.server.close();
    }
  });

  it("puts no forged answer on another phone's TCP connection", async () => {
    const phone = connect({ host: '127.0.0.1', port: 37060, localAddress: '127.108.0.2' });
    let got = '';
    phone.on('data', (d) => {
      got += d.toString('latin1');
    });
    await new Promise<void>((r) => phone.once('connect', () => r()));
    const attacker = await UdpPeer.bind('127.108.0.3');
    try {
      phone.write(invite(`SIP/2.0/TCP 127.108.0.2:${phone.localPort};branch=z9hG4bKtcp1`, 'tcp-1'));
      await waitFor(() => pbx.matching('tcp-1').length > 0, 'the INVITE to reach the upstream');
      const seen = pbx.matching('tcp-1')[0]!;
      const sw = /;sw=([a-z0-9-]+)/.exec(seen)![1]!;
      for (let id = 1; id <= 60; id++) {
        // The Via under the forged one names the upstream (inside) or the phone itself; `sw`
        // names connection `id`, one of which is the phone's.
        for (const next of [
          'SIP/2.0/TCP 127.0.0.1:37070;branch=z9hG4bKx',
          `SIP/2.0/TCP 127.108.0.2:${phone.localPort};branch=z9hG4bKtcp1;received=127.108.0.2;rport=${phone.localPort}`,
        ]) {
          const forged = [
            'SIP/2.0 302 Moved Temporarily',
            `Via: SIP/2.0/UDP 127.0.0.1:37060;branch=z9hG4bKsw${id}.AAAAAAAAAAAAAAAA;sw=${sw.replace(/\d+$/, String(id))}`,
            `Via: ${next}`,
            'From: <sip:200@example.com>;tag=f-tcp-1',
            'To: <sip:100@example.com>;tag=evil',
            'Call-ID: tcp-1',
            'CSeq: 1 INVITE',
            'Contact: <sip:evil@198.51.100.66>',
            'Content-Length: 0',
            '',
            '',
          ].join(CRLF);
          await attacker.send(forged, 37060);
        }
      }
      await sleep(400);
      assert.ok(!got.includes('302'), 'a forged 302 reached the phone');
      await pbx.send(responseTo(seen, '486 Busy Here'), 37060);
      await waitFor(() => got.includes('486 Busy Here'), "the genuine 486 on the phone's connection");
      assert.ok(got.includes('Content-Length: 0\r\n'), 'a canonical Content-Length on the stream');
    } finally {
      attacker.close();
      phone.destroy();
    }
  });

  it("stamps received and rport itself: a client's own received cannot redirect the answer", async () => {
    const victim = await UdpPeer.bind('127.108.0.5', 37090);
    const victimTcp = await catcher('127.108.0.5', 37091);
    const attacker = await UdpPeer.bind('127.108.0.4');
    const tcpAttacker = connect({ host: '127.0.0.1', port: 37060, localAddress: '127.108.0.4' });
    tcpAttacker.on('error', () => {});
    await new Promise<void>((r) => tcpAttacker.once('connect', () => r()));
    try {
      await attacker.send(
        invite('SIP/2.0/UDP 127.108.0.4:37090;branch=z9hG4bKrcv1;received=127.108.0.5', 'rcv-1'),
        37060,
      );
      tcpAttacker.write(invite('SIP/2.0/TCP 127.108.0.4:37091;branch=z9hG4bKrcv2;received=127.108.0.5', 'rcv-2'));
      await waitFor(
        () => pbx.matching('rcv-1').length > 0 && pbx.matching('rcv-2').length > 0,
        'both INVITEs upstream',
      );
      const udpSeen = pbx.matching('rcv-1')[0]!;
      const clientVia = udpSeen.split(CRLF).filter((l) => l.startsWith('Via:'))[1]!;
      assert.match(clientVia, new RegExp(`;received=127\\.108\\.0\\.4;rport=${attacker.port}$`));
      assert.doesNotMatch(clientVia, /127\.108\.0\.5/);
      // The upstream answers as any registrar would, by the Vias it got.
      await pbx.send(responseTo(udpSeen, '404 Not Found'), 37060);
      await pbx.send(responseTo(pbx.matching('rcv-2')[0]!, '404 Not Found'), 37060);
      await waitFor(() => attacker.matching('404').length === 1, 'the answer at the real source');
      await sleep(300);
      assert.equal(victim.received.length, 0, 'the answer was reflected to the address the client named');
      assert.equal(victimTcp.connections, 0, 'sipwarden opened a connection to the address the client named');
    } finally {
      victim.close();
      victimTcp.server.close();
      attacker.close();
      tcpAttacker.destroy();
    }
  });

  it('refuses a folded Content-Length and writes a canonical one towards a stream', async () => {
    const phone = await UdpPeer.bind('127.108.0.6');
    try {
      const folded = invite(`SIP/2.0/UDP 127.108.0.6:${phone.port};branch=z9hG4bKcl1;rport`, 'cl-1').replace(
        'Content-Length: 0',
        'Content-Length :\r\n 0',
      );
      await phone.send(folded, 37060);
      await waitFor(() => phone.matching('400').length === 1, 'a 400');
      assert.match(phone.received[0]!.data, /^SIP\/2\.0 400 Folded Content-Length/);
      await sleep(200);
      assert.equal(pbx.matching('cl-1').length, 0);
    } finally {
      phone.close();
    }
  });

  it('answers 420, 482 and 483 within the bad-request budget, with a bounded Unsupported', async () => {
    const phone = await UdpPeer.bind('127.108.0.7');
    try {
      const tags = Array.from({ length: 60 }, (_, i) => `ext-${i}-${'x'.repeat(20)}`).join(', ');
      const big = invite(`SIP/2.0/UDP 127.108.0.7:${phone.port};branch=z9hG4bKpr;rport`, 'pr-1', [
        `Proxy-Require: ${tags}`,
      ]);
      await phone.send(big, 37060);
      await waitFor(() => phone.matching('420').length === 1, 'a 420');
      const answer = phone.matching('420')[0]!;
      assert.ok(answer.length < big.length, `420 of ${answer.length} bytes for a ${big.length}-byte request`);
      assert.ok((answer.match(/ext-/g) ?? []).length <= 8);
      // 200 more (budget: 50 a second by default), none of them forwarded.
      for (let i = 0; i < 200; i++) {
        const req = invite(`SIP/2.0/UDP 127.108.0.7:${phone.port};branch=z9hG4bKpr${i};rport`, `pr-b${i}`, [
          'Proxy-Require: x',
        ]);
        await phone.send(i % 2 === 0 ? req : req.replace('Max-Forwards: 70', 'Max-Forwards: 0'), 37060);
      }
      await sleep(500);
      const answered = phone.received.length - 1;
      assert.ok(answered > 0 && answered <= 80, `${answered} refusals answered to 200 requests`);
    } finally {
      phone.close();
    }
  });
});

describe('proxy: the inside over TCP is only what sipwarden connected to', () => {
  it("takes a TCP client on the upstream's own address for the outside", async () => {
    const pbx = await UdpPeer.bind('127.0.0.1', 37170);
    const sw = await startSipwarden(
      `listen: [udp://127.0.0.1:37160, tcp://127.0.0.1:37160]
upstreams:
  - name: pbx
    targets: [udp://127.0.0.1:37170]
    ping: false
`,
      { listeners: 2 },
    );
    const phone = connect({ host: '127.0.0.1', port: 37160, localAddress: '127.0.0.1' });
    let got = '';
    phone.on('data', (d) => {
      got += d.toString('latin1');
    });
    try {
      await new Promise<void>((r) => phone.once('connect', () => r()));
      phone.write(
        invite(
          `SIP/2.0/TCP 127.0.0.1:${phone.localPort};branch=z9hG4bKtrust1`,
          'trust-1',
          [],
          'sip:100@127.0.0.1:37160',
        ),
      );
      // From the outside, the request goes to the upstream (through sipwarden's Via), and its
      // answer comes back on the phone's connection.
      await waitFor(() => pbx.matching('trust-1').length > 0, "the phone's INVITE at the upstream");
      const seen = pbx.matching('trust-1')[0]!;
      assert.match(seen.split(CRLF)[1]!, /^Via: SIP\/2\.0\/UDP 127\.0\.0\.1:37160;branch=z9hG4bKsw/);
      await pbx.send(responseTo(seen, '200 OK'), 37160);
      await waitFor(() => got.includes('SIP/2.0 200 OK'), "the 200 on the phone's connection");
    } finally {
      phone.destroy();
      pbx.close();
      await sw.stop();
    }
  });
});

describe('proxy: CANCEL from a proxying upstream', () => {
  it('gives the hop-by-hop CANCEL the branch of its INVITE', async () => {
    const pbx = await UdpPeer.bind('127.0.0.1', 37270);
    const phone = await UdpPeer.bind('127.108.0.9', 37290);
    const sw = await startSipwarden(
      `listen: [udp://127.0.0.1:37260]
upstreams:
  - name: pbx
    targets: [udp://127.0.0.1:37270]
    ping: false
`,
      { listeners: 1 },
    );
    try {
      const common = (method: string, vias: string[]) =>
        [
          `${method} sip:100@127.108.0.9:37290 SIP/2.0`,
          ...vias.map((v) => `Via: ${v}`),
          'Max-Forwards: 69',
          'From: <sip:200@example.com>;tag=caller',
          'To: <sip:100@example.com>',
          'Call-ID: cancel-1',
          `CSeq: 7 ${method}`,
          'Content-Length: 0',
          '',
          '',
        ].join(CRLF);
      // A stateful proxy's INVITE carries the caller's Via below its own; its CANCEL only its own.
      await pbx.send(
        common('INVITE', [
          'SIP/2.0/UDP 127.0.0.1:37270;branch=z9hG4bKpbx1',
          'SIP/2.0/UDP 10.9.9.9:5060;received=10.9.9.9;branch=z9hG4bKcaller1',
        ]),
        37260,
      );
      await pbx.send(common('CANCEL', ['SIP/2.0/UDP 127.0.0.1:37270;branch=z9hG4bKpbx1']), 37260);
      await waitFor(() => phone.received.length === 2, 'the INVITE and the CANCEL at the phone');
      const branchOf = (m: string) => /^Via: [^\r]*;branch=([^;\r,]+)/m.exec(m)![1];
      const [inv, can] = [phone.matching('INVITE sip:')[0]!, phone.matching('CANCEL sip:')[0]!];
      assert.equal(branchOf(can), branchOf(inv));
      // Loops are still caught: a phone's request that the upstream sends straight back.
      const caller = await UdpPeer.bind('127.108.0.10');
      await caller.send(
        invite(
          `SIP/2.0/UDP 127.108.0.10:${caller.port};branch=z9hG4bKloop1;rport`,
          'loop-1',
          [],
          'sip:100@127.0.0.1:37260',
        ),
        37260,
      );
      await waitFor(() => pbx.matching('loop-1').length === 1, 'the INVITE upstream');
      await pbx.send(pbx.matching('loop-1')[0]!.replace(/^Max-Forwards: \d+/m, 'Max-Forwards: 60'), 37260);
      await waitFor(() => pbx.matching('482 Loop Detected').length === 1, 'a 482');
      caller.close();
    } finally {
      pbx.close();
      phone.close();
      await sw.stop();
    }
  });
});
