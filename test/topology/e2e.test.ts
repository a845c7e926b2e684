/**
 * Topology hiding end to end: real sipp phones outside, a real sipp "PBX" inside that gives
 * its topology away (internal Record-Route, Contact, banner, X- header, Warning with an
 * internal host, Call-IDs with its address), and a packet capture of every byte sipwarden
 * sends to the outside, scanned for anything internal.
 *
 * Addresses: sipwarden 127.23.0.1:18900, phones 127.23.0.2 and 127.23.0.3 (outside), the PBX
 * 127.23.0.20:18920 (inside). Ports 18900-18999.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseMessage } from '../../src/sip/parser.js';
import { type Capture, captureLoopback } from '../helpers/capture.js';
import { waitFor } from '../helpers/process.js';
import { sipp } from '../helpers/sipp.js';
import { type SipwardenInstance, startSipwarden } from '../helpers/sipwarden.js';
import { sleep, UdpPeer } from '../helpers/udp.js';

const SW = '127.23.0.1';
const SW_PORT = 18900;
const PHONE = '127.23.0.2';
const PHONE2 = '127.23.0.3';
const PBX = '127.23.0.20';
const PBX_PORT = 18920;

const CONFIG = `log: { level: debug }
listen: [udp://${SW}:${SW_PORT}]
upstreams:
  - name: pbx
    targets: [udp://${PBX}:${PBX_PORT}]
    ping: false
topology:
  internal_hosts: [pbx.internal.example, 10.1.2.3]
  out:
    remove: [X-Asterisk-*]
`;

/** What must never leave for the outside. */
const INTERNAL = [PBX, String(PBX_PORT), 'pbx.internal.example', '10.1.2.3', 'Asterisk', 'X-Asterisk'];

describe('topology hiding end to end (sipp, capture of everything sent outside)', () => {
  let sw: SipwardenInstance;
  let capture: Capture;
  const outside: Buffer[] = [];

  before(async () => {
    capture = await captureLoopback(
      `udp and src host ${SW} and src port ${SW_PORT} and (dst host ${PHONE} or dst host ${PHONE2})`,
    );
    sw = await startSipwarden(CONFIG, { listeners: 1 });
  });

  after(async () => {
    await sw?.stop();
  });

  it('a call with a re-INVITE and a BYE from the caller', async () => {
    const pbx = sipp({
      scenario: 'uas-pbx-reinvite.xml',
      ip: PBX,
      port: PBX_PORT,
      calls: 3,
      extra: ['-mi', '127.23.0.50'],
    });
    const phone = sipp({
      scenario: 'uac-call-reinvite.xml',
      ip: PHONE,
      port: 18902,
      remote: `${SW}:${SW_PORT}`,
      calls: 3,
    });
    const [p, u] = await Promise.all([phone.result, pbx.result]);
    assert.equal(p.failed, 0, p.output);
    assert.equal(p.successful, 3, p.output);
    assert.equal(u.successful, 3, u.output);
  });

  it('a call the PBX ends with its own BYE', async () => {
    const pbx = sipp({ scenario: 'uas-pbx-bye.xml', ip: PBX, port: PBX_PORT, calls: 2, extra: ['-mi', '127.23.0.50'] });
    const phone = sipp({
      scenario: 'uac-call-recv-bye.xml',
      ip: PHONE,
      port: 18902,
      remote: `${SW}:${SW_PORT}`,
      calls: 2,
    });
    const [p, u] = await Promise.all([phone.result, pbx.result]);
    assert.equal(p.failed, 0, p.output);
    assert.equal(p.successful, 2, p.output);
    assert.equal(u.successful, 2, u.output);
  });

  it('CANCEL of a ringing call', async () => {
    const pbx = sipp({ scenario: 'uas-ringing.xml', ip: PBX, port: PBX_PORT, calls: 2 });
    const phone = sipp({
      scenario: 'uac-cancel.xml',
      ip: PHONE,
      port: 18902,
      remote: `${SW}:${SW_PORT}`,
      calls: 2,
    });
    const [p, u] = await Promise.all([phone.result, pbx.result]);
    assert.equal(p.failed, 0, p.output);
    assert.equal(p.successful, 2, p.output);
    assert.equal(u.successful, 2, u.output);
  });

  it('REGISTER, then the PBX calls the registered phone back', async () => {
    const registrarLog = join(sw.dir, 'registrar.msg');
    const registrar = sipp({
      scenario: 'uas-registrar.xml',
      ip: PBX,
      port: PBX_PORT,
      calls: 1,
      extra: ['-trace_msg', '-message_file', registrarLog],
    });
    const phone = sipp({ scenario: 'uac-register.xml', ip: PHONE2, port: 18903, remote: `${SW}:${SW_PORT}`, calls: 1 });
    const [r, p] = await Promise.all([registrar.result, phone.result]);
    assert.equal(p.successful, 1, p.output);
    assert.equal(r.successful, 1, r.output);
    const path = /^Path:\s*(<sip:[^>]+>)/m.exec(readFileSync(registrarLog, 'utf8'))?.[1];
    assert.ok(path, 'the registrar saw a Path header');

    const csv = join(sw.dir, 'route.csv');
    writeFileSync(csv, `SEQUENTIAL\n${path.slice(1, -1).replace(/;lr$/, '')}\n`);
    const phoneUas = sipp({ scenario: 'uas-call.xml', ip: PHONE2, port: 18903, calls: 1 });
    const pbxCall = sipp({
      scenario: 'uac-call-routed.xml',
      ip: PBX,
      port: PBX_PORT,
      remote: `${PHONE2}:18903`,
      calls: 1,
      // The PBX's SDP names a media relay outside; SDP is not rewritten (see docs/topology.md).
      extra: ['-rsa', `${SW}:${SW_PORT}`, '-inf', csv, '-mi', '127.23.0.50'],
    });
    const [c, d] = await Promise.all([pbxCall.result, phoneUas.result]);
    assert.equal(c.failed, 0, c.output);
    assert.equal(c.successful, 1, c.output);
    assert.equal(d.successful, 1, d.output);
  });

  it('refuses a modified token with 481 and reports it; the real one still works', async () => {
    // This PBX adds an internal Record-Route entry, so the outside's Route carries a `tr` token.
    const pbx = sipp({
      scenario: 'uas-pbx-reinvite.xml',
      ip: PBX,
      port: PBX_PORT,
      calls: 1,
      extra: ['-mi', '127.23.0.50'],
    });
    await sleep(300);
    const ua = await UdpPeer.bind(PHONE, 18904);
    try {
      const base = (method: string, uri: string, cseq: number, extra: string[]) =>
        [
          `${method} ${uri} SIP/2.0`,
          `Via: SIP/2.0/UDP ${PHONE}:18904;branch=z9hG4bK-tamper-${method}-${cseq};rport`,
          'Max-Forwards: 70',
          `From: <sip:alice@${PHONE}>;tag=t1`,
          'Call-ID: tamper-1@127.23.0.2',
          `CSeq: ${cseq} ${method}`,
          `Contact: <sip:alice@${PHONE}:18904>`,
          ...extra,
          'Content-Length: 0',
          '',
          '',
        ].join('\r\n');
      await ua.send(base('INVITE', `sip:svc@${SW}:${SW_PORT}`, 1, ['To: <sip:svc@example.com>']), SW_PORT, SW);
      await waitForMessage(ua, (m) => m.startsWith('SIP/2.0 200'));
      const ok = parseMessage(Buffer.from(ua.matching('SIP/2.0 200')[0]!, 'latin1'));
      const rr = ok.recordRoutes;
      assert.equal(rr.length, 1);
      const contact = ok.contact;
      assert.ok(contact && !contact.star);
      const target = contact.addresses[0]!.uriText;
      assert.match(target, new RegExp(`^sip:[a-z2-7]{47,}@${SW.replace(/\./g, '\\.')}:${SW_PORT}$`));
      const to = `To: ${ok.header('To')}`;
      const route = `Route: <${rr[0]!.uriText}>`;
      await ua.send(base('ACK', target, 1, [route, to]), SW_PORT, SW);

      // One character of the Contact token changed: refused, never routed anywhere.
      const user = target.slice(4, target.indexOf('@'));
      const flipped = user.slice(0, 20) + (user[20] === 'a' ? 'b' : 'a') + user.slice(21);
      const forged = target.replace(user, flipped);
      const before = ua.received.length;
      await ua.send(base('BYE', forged, 2, [route, to]), SW_PORT, SW);
      await waitForMessage(ua, (m) => m.startsWith('SIP/2.0 481'), before);
      // The Record-Route token changed: refused too.
      const trToken = rr[0]!.uri.params.get('tr');
      assert.ok(typeof trToken === 'string' && trToken.length >= 47, 'the internal Record-Route entry is sealed');
      const badRoute = route.replace(trToken, trToken.slice(0, -3) + (trToken.endsWith('aaa') ? 'bbb' : 'aaa'));
      await ua.send(base('BYE', target, 3, [badRoute, to]), SW_PORT, SW);
      await waitForMessage(ua, (m) => m.startsWith('SIP/2.0 481') && m.includes('CSeq: 3 BYE'), before);

      // The real tokens still work: re-INVITE, ACK, BYE.
      await ua.send(base('INVITE', target, 4, [route, to]), SW_PORT, SW);
      await waitForMessage(ua, (m) => m.startsWith('SIP/2.0 200') && m.includes('CSeq: 4 INVITE'));
      await ua.send(base('ACK', target, 4, [route, to]), SW_PORT, SW);
      await sleep(100);
      await ua.send(base('BYE', target, 5, [route, to]), SW_PORT, SW);
      await waitForMessage(ua, (m) => m.startsWith('SIP/2.0 200') && m.includes('CSeq: 5 BYE'));
      const u = await pbx.result;
      assert.equal(u.successful, 1, u.output);
      const refused = sw.logs().filter((l) => l.guard === 'topology');
      assert.deepEqual(
        refused.map((l) => l.rule),
        ['forged-contact', 'forged-route'],
        'both refusals are reported as events',
      );
    } finally {
      ua.close();
    }
  });

  it('a 302 from the PBX: the phone follows the sealed Contact and the PBX gets its own URI back', async () => {
    const pbx = await UdpPeer.bind(PBX, PBX_PORT);
    const ua = await UdpPeer.bind(PHONE, 18906);
    try {
      const invite = (uri: string, cseq: number, branch: string) =>
        [
          `INVITE ${uri} SIP/2.0`,
          `Via: SIP/2.0/UDP ${PHONE}:18906;branch=z9hG4bK-${branch};rport`,
          'Max-Forwards: 70',
          `From: <sip:alice@${PHONE}>;tag=rd1`,
          'To: <sip:sales@example.com>',
          'Call-ID: redirect-1@127.23.0.2',
          `CSeq: ${cseq} INVITE`,
          `Contact: <sip:alice@${PHONE}:18906>`,
          'Content-Length: 0',
          '',
          '',
        ].join('\r\n');
      await ua.send(invite(`sip:sales@${SW}:${SW_PORT}`, 1, 'rd-1'), SW_PORT, SW);
      await waitForMessage(pbx, (m) => m.startsWith('INVITE '));
      const got = parseMessage(Buffer.from(pbx.received[0]!.data, 'latin1'));
      const copy = ['Via', 'From', 'To', 'Call-ID', 'CSeq'].flatMap((h) => {
        const out: string[] = [];
        for (let k = got.findHeader(h); k !== -1; k = got.findHeader(h, k + 1))
          out.push(`${h}: ${got.headerValueAt(k)}`);
        return out;
      });
      const redirect = [
        'SIP/2.0 302 Moved Temporarily',
        ...copy.map((l) => (l.startsWith('To:') ? `${l};tag=pbx302` : l)),
        `Contact: <sip:sales-queue@${PBX}:${PBX_PORT}>;q=0.9, <sip:sales-backup@pbx.internal.example>;q=0.5`,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      await pbx.send(redirect, SW_PORT, SW);
      await waitForMessage(ua, (m) => m.startsWith('SIP/2.0 302'));
      const moved = parseMessage(Buffer.from(ua.matching('SIP/2.0 302')[0]!, 'latin1'));
      const contact = moved.contact;
      assert.ok(contact && !contact.star && contact.addresses.length === 2);
      for (const a of contact.addresses) {
        assert.equal(a.uri.host, SW);
        assert.match(a.uri.user ?? '', /^[a-z][a-z2-7]{46,}$/);
      }
      assert.equal(contact.addresses[0]!.params.get('q'), '0.9', 'header parameters are kept');
      // The phone tries the first target: sipwarden gives the PBX the URI it handed out.
      await ua.send(invite(contact.addresses[0]!.uriText, 2, 'rd-2'), SW_PORT, SW);
      await waitForMessage(pbx, (m) => m.startsWith(`INVITE sip:sales-queue@${PBX}:${PBX_PORT} SIP/2.0`));
    } finally {
      pbx.close();
      ua.close();
    }
  });

  it('sent nothing internal to the outside (scan of the capture)', async () => {
    outside.push(...(await capture.stop()));
    assert.ok(outside.length >= 40, `captured ${outside.length} messages to the outside`);
    const texts = outside.map((b) => b.toString('latin1'));
    for (const text of texts) {
      for (const needle of INTERNAL) {
        assert.ok(!text.includes(needle), `"${needle}" left for the outside in:\n${text}`);
      }
      // Every message sipwarden sent out is well-formed SIP.
      parseMessage(Buffer.from(text, 'latin1'));
    }
    // The capture saw the hidden values, so the scan looked at the right messages.
    assert.ok(
      texts.some((t) => /^Via: .*;tv=[a-z2-7]+/m.test(t)),
      'requests from the PBX carry a sealed Via',
    );
    assert.ok(
      texts.some((t) => /^Record-Route: <sip:[^@]+@[^>]*;tr=[a-z2-7]+>/m.test(t)),
      'sealed Record-Route',
    );
    assert.ok(
      texts.some((t) => /^Call-ID: [a-z2-7]{47,}\r$/m.test(t)),
      "the PBX's own Call-ID went out as a token",
    );
  });
});

describe('topology key rotation (SIGHUP)', () => {
  it('a dialog made under the old key ends after a rotation; without the old key its tokens are refused', async () => {
    const oldKey = 'a1'.repeat(32);
    const newKey = 'b2'.repeat(32);
    const base = (topology: string) =>
      `log: { level: debug }\nlisten: [udp://${SW}:18950]\nupstreams:\n  - name: pbx\n    targets: [udp://${PBX}:18960]\n    ping: false\n${topology}`;
    const sw = await startSipwarden(base(`topology: { key: "${oldKey}" }\n`), { listeners: 1 });
    const pbx = sipp({ scenario: 'uas-call.xml', ip: PBX, port: 18960, calls: 2 });
    await sleep(300);
    const ua = await UdpPeer.bind(PHONE, 18955);
    const reload = async (topology: string) => {
      const before = sw.logs().filter((l) => l.event === 'reloaded').length;
      writeFileSync(sw.configFile, `data_dir: ${sw.dir}/data\n${base(topology)}`);
      sw.run.signal('SIGHUP');
      await waitFor(() => sw.logs().filter((l) => l.event === 'reloaded').length > before, 'the reload');
    };
    try {
      const req = (method: string, uri: string, cseq: number, callId: string, extra: string[]) =>
        [
          `${method} ${uri} SIP/2.0`,
          `Via: SIP/2.0/UDP ${PHONE}:18955;branch=z9hG4bK-rot-${callId.replace(/[^a-z0-9]/gi, '')}-${method}-${cseq};rport`,
          'Max-Forwards: 70',
          `From: <sip:alice@${PHONE}>;tag=r1`,
          `Call-ID: ${callId}`,
          `CSeq: ${cseq} ${method}`,
          `Contact: <sip:alice@${PHONE}:18955>`,
          ...extra,
          'Content-Length: 0',
          '',
          '',
        ].join('\r\n');
      const call = async (callId: string) => {
        const from = ua.received.length;
        await ua.send(req('INVITE', `sip:svc@${SW}:18950`, 1, callId, ['To: <sip:svc@example.com>']), 18950, SW);
        await waitForMessage(ua, (m) => m.startsWith('SIP/2.0 200') && m.includes(callId), from);
        const ok = parseMessage(
          Buffer.from(ua.received.slice(from).find((r) => r.data.startsWith('SIP/2.0 200'))!.data, 'latin1'),
        );
        const c = ok.contact;
        assert.ok(c && !c.star);
        const target = c.addresses[0]!.uriText;
        const route = `Route: <${ok.recordRoutes[0]!.uriText}>`;
        const to = `To: ${ok.header('To')}`;
        await ua.send(req('ACK', target, 1, callId, [route, to]), 18950, SW);
        return { target, route, to };
      };
      const first = await call('rot-1@127.23.0.2');
      // New key; the old one still opens tokens for an hour.
      await reload(
        `topology:\n  key: "${newKey}"\n  previous_keys: [{ key: "${oldKey}", until: "${new Date(Date.now() + 3_600_000).toISOString()}" }]\n`,
      );
      const second = await call('rot-2@127.23.0.2');
      assert.notEqual(second.target, first.target, 'new tokens are made under the new key');
      let from = ua.received.length;
      await ua.send(req('BYE', first.target, 2, 'rot-1@127.23.0.2', [first.route, first.to]), 18950, SW);
      await waitForMessage(ua, (m) => m.startsWith('SIP/2.0 200') && m.includes('rot-1@127.23.0.2'), from);
      // The old key removed: the first dialog's tokens are refused, the second's still open.
      await reload(`topology: { key: "${newKey}" }\n`);
      from = ua.received.length;
      await ua.send(req('BYE', first.target, 3, 'rot-1@127.23.0.2', [first.route, first.to]), 18950, SW);
      await waitForMessage(ua, (m) => m.startsWith('SIP/2.0 481') && m.includes('CSeq: 3 BYE'), from);
      from = ua.received.length;
      await ua.send(req('BYE', second.target, 2, 'rot-2@127.23.0.2', [second.route, second.to]), 18950, SW);
      await waitForMessage(ua, (m) => m.startsWith('SIP/2.0 200') && m.includes('rot-2@127.23.0.2'), from);
      const u = await pbx.result;
      assert.equal(u.successful, 2, u.output);
    } finally {
      ua.close();
      await sw.stop();
    }
  });
});

describe('topology hiding over TCP outside, UDP inside (double Record-Route)', () => {
  it('calls with re-INVITE work and the TCP stream to the phone holds nothing internal', async () => {
    const phone = '127.23.0.4';
    const capture = await captureLoopback(`tcp and src host ${SW} and src port 18970 and dst host ${phone}`);
    const sw = await startSipwarden(
      `listen: [udp://${SW}:18970, tcp://${SW}:18970]
upstreams:
  - name: pbx
    targets: [udp://${PBX}:18980]
    ping: false
topology:
  internal_hosts: [pbx.internal.example, 10.1.2.3]
  out:
    remove: [X-Asterisk-*]
`,
      { listeners: 2 },
    );
    try {
      const pbx = sipp({
        scenario: 'uas-pbx-reinvite.xml',
        ip: PBX,
        port: 18980,
        calls: 2,
        extra: ['-mi', '127.23.0.50'],
      });
      const ua = sipp({
        scenario: 'uac-call-reinvite.xml',
        ip: phone,
        port: 18971,
        remote: `${SW}:18970`,
        transport: 't1',
        calls: 2,
        rate: 2,
      });
      const [p, u] = await Promise.all([ua.result, pbx.result]);
      assert.equal(p.failed, 0, p.output);
      assert.equal(p.successful, 2, p.output);
      assert.equal(u.successful, 2, u.output);
    } finally {
      await sw.stop();
    }
    // TCP segments do not follow message boundaries: scan the stream as a whole.
    const stream = Buffer.concat(await capture.stop()).toString('latin1');
    assert.ok(stream.length > 2000, `captured ${stream.length} bytes`);
    for (const needle of INTERNAL) {
      assert.ok(!stream.includes(needle), `"${needle}" left for the outside`);
    }
    // The UDP listener's Record-Route entry travels sealed with the PBX's internal one.
    assert.match(stream, /Record-Route: <sip:[^@>]+@127\.23\.0\.1:18970;transport=tcp;lr;tr=[a-z2-7]+>\r\n/);
  });
});

async function waitForMessage(ua: UdpPeer, pred: (m: string) => boolean, from = 0): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!ua.received.slice(from).some((r) => pred(r.data))) {
    if (Date.now() > deadline) {
      throw new Error(`no matching message; got:\n${ua.received.map((r) => r.data).join('\n---\n')}`);
    }
    await sleep(20);
  }
}
