/**
 * A transaction whose signed branch happens to look like an upstream ping's. sipwarden's branch
 * is `z9hG4bKsw` + a base36 transaction id (a keyed hash of the client's branch, address and
 * CSeq) + `.` + MAC, and its pings' branches once were `z9hG4bKsw` + `ping` + ...: about one
 * transaction in four million got an id starting with `ping`, and its answers were taken for a
 * ping's and swallowed, so the call failed on every retransmission. The client's branch below
 * was searched for offline: with this secret, from this address, with CSeq 1, it gives such an
 * id; the test checks that on the wire before it checks the answer.
 * Ports 41500-41519, addresses 127.116.0.x.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/process.js';
import { type SipwardenInstance, startSipwarden } from '../helpers/sipwarden.js';
import { UdpPeer } from '../helpers/udp.js';

const CRLF = '\r\n';
const PROXY = { ip: '127.116.0.1', port: 41500 };
const PHONE_IP = '127.116.0.10';
const COLLIDING_BRANCH = 'z9hG4bK-2mp27';

/** The answer a UAS sends to `request` (as received): every Via copied, a To tag added. */
function answerTo(request: string, status: string): string {
  const head = request.split(CRLF + CRLF)[0]!.split(CRLF);
  return [
    `SIP/2.0 ${status}`,
    ...head.filter((l) => /^(Via|From|Call-ID|CSeq):/.test(l)),
    `${head.find((l) => l.startsWith('To:'))!};tag=uas`,
    'Content-Length: 0',
    '',
    '',
  ].join(CRLF);
}

describe('proxy: a signed branch that starts like a ping', () => {
  let sw: SipwardenInstance;
  let pbx: UdpPeer;
  let phone: UdpPeer;
  /** The PBX answers sipwarden's pings while this is true. */
  let answerPings = true;
  before(async () => {
    pbx = await UdpPeer.bind('127.116.0.2', 41501);
    pbx.socket.on('message', (m) => {
      const text = m.toString('latin1');
      if (answerPings && text.startsWith('OPTIONS ')) void pbx.send(answerTo(text, '200 OK'), PROXY.port, PROXY.ip);
    });
    phone = await UdpPeer.bind(PHONE_IP, 41510);
    sw = await startSipwarden(
      `listen: [udp://${PROXY.ip}:${PROXY.port}]
secret: ping-branch-collision-test-secret-0001
upstreams:
  - name: pbx
    targets: [udp://127.116.0.2:41501]
    ping: { interval: 300ms, timeout: 200ms, failures: 1 }
guards: { chain: [acl, bans, flood] }
`,
      { listeners: 1 },
    );
  });
  after(async () => {
    phone.close();
    pbx.close();
    await sw.stop();
  });

  it('routes its answers to the caller, and pings still work', async () => {
    const invite = [
      `INVITE sip:100@${PROXY.ip}:${PROXY.port} SIP/2.0`,
      `Via: SIP/2.0/UDP ${PHONE_IP}:41510;branch=${COLLIDING_BRANCH};rport`,
      'Max-Forwards: 70',
      'From: <sip:200@example.com>;tag=caller',
      'To: <sip:100@example.com>',
      'Call-ID: ping-lookalike',
      'CSeq: 1 INVITE',
      `Contact: <sip:200@${PHONE_IP}:41510>`,
      'Content-Length: 0',
      '',
      '',
    ].join(CRLF);
    await phone.send(invite, PROXY.port, PROXY.ip);
    await waitFor(() => pbx.matching('ping-lookalike').length > 0, 'the INVITE at the PBX');
    const forwarded = pbx.matching('ping-lookalike')[0]!;
    const ours = forwarded.split(CRLF).find((l) => l.startsWith('Via:'))!;
    assert.match(ours, /;branch=z9hG4bKswping[0-9a-z]*\.[0-9a-f]{16}/, 'the transaction id starts with "ping"');

    await pbx.send(answerTo(forwarded, '180 Ringing'), PROXY.port, PROXY.ip);
    await pbx.send(answerTo(forwarded, '200 OK'), PROXY.port, PROXY.ip);
    await waitFor(() => phone.matching('ping-lookalike').length >= 2, 'the 180 and the 200 at the phone');
    assert.deepEqual(
      phone.matching('ping-lookalike').map((m) => m.slice(0, m.indexOf(CRLF))),
      ['SIP/2.0 180 Ringing', 'SIP/2.0 200 OK'],
    );

    // The pings themselves still work: unanswered, the target goes down; answered, it is back.
    await waitFor(() => pbx.matching('OPTIONS ').length > 0, 'a ping');
    const ping = pbx.matching('OPTIONS ')[0]!;
    assert.match(ping.split(CRLF).find((l) => l.startsWith('Via:'))!, /;branch=z9hG4bKsw-ping/);
    answerPings = false;
    await waitFor(() => sw.logs().some((l) => l.event === 'upstream-down'), 'the target down', 5000);
    answerPings = true;
    await waitFor(() => sw.logs().some((l) => l.event === 'upstream-up'), 'the target back', 5000);
  });
});
