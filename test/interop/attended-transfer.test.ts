/**
 * Attended transfer (RFC 5589: REFER with an embedded Replaces, INVITE with Replaces,
 * Target-Dialog, NOTIFY with a sipfrag) through sipwarden, in both directions, between a
 * phone outside and a B2BUA PBX inside that holds two dialogs with it: one the PBX made (its
 * Call-ID leaves sealed) and one the phone made (its Call-ID reaches the PBX with a mark).
 *
 * baresip 1.0.0 has no attended transfer (no Replaces, no command for it) and sipp binds a
 * scenario to one Call-ID, so both ends are scripted here: each message is written as a phone
 * or a PBX writes it and read back with sipwarden's own parser, over real sockets through a
 * real sipwarden (UDP and TCP phones, hiding on, and off for comparison). What is asserted is
 * what each end needs: the PBX finds its own dialogs named in what the phone sends, the phone
 * finds its own in what the PBX sends, tags untouched, and the phone never sees the inside.
 *
 * sipwarden 127.106.20-22.1:35000, phone 127.106.20-22.2:35300, PBX 127.107.0.30:35070; the
 * Kamailio variant at the end of the file has its own addresses.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SipMessage } from '../../src/sip/message.js';
import { parseMessage } from '../../src/sip/parser.js';
import { type KamailioInstance, startKamailioProxy } from '../helpers/kamailio.js';
import { type SipwardenInstance, startSipwarden } from '../helpers/sipwarden.js';
import { StreamUa } from '../helpers/ua.js';
import { UdpPeer } from '../helpers/udp.js';
import { assertNothingInternal } from './common.js';

const PBX = '127.107.0.30';
const PBX_PORT = 35070;
const SW_PORT = 35000;
const PHONE_PORT = 35300;

/** One end of the conversation: sends text, reads parsed messages. */
interface End {
  readonly received: SipMessage[];
  send(text: string): Promise<void>;
  next(pred: (m: SipMessage) => boolean, ms?: number): Promise<SipMessage>;
  close(): void;
}

class UdpEnd implements End {
  readonly received: SipMessage[] = [];
  private seen = 0;
  private constructor(
    private readonly peer: UdpPeer,
    private readonly to: { host: string; port: number },
  ) {}

  static async open(ip: string, port: number, to: { host: string; port: number }): Promise<UdpEnd> {
    return new UdpEnd(await UdpPeer.bind(ip, port), to);
  }

  send(text: string): Promise<void> {
    return this.peer.send(text, this.to.port, this.to.host);
  }

  async next(pred: (m: SipMessage) => boolean, ms = 3000): Promise<SipMessage> {
    const deadline = Date.now() + ms;
    for (;;) {
      for (; this.seen < this.peer.received.length; this.seen++) {
        this.received.push(parseMessage(Buffer.from(this.peer.received[this.seen]!.data, 'latin1')));
      }
      const m = this.received.find((r) => !taken.has(r) && pred(r));
      if (m !== undefined) {
        taken.add(m);
        return m;
      }
      if (Date.now() > deadline) throw new Error('timed out waiting for a SIP message');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close(): void {
    this.peer.close();
  }
}

class TcpEnd implements End {
  readonly received: SipMessage[] = [];
  private constructor(private readonly ua: StreamUa) {}

  static async open(ip: string, to: { host: string; port: number }): Promise<TcpEnd> {
    return new TcpEnd(await StreamUa.connect({ tls: false, host: to.host, port: to.port, localAddress: ip }));
  }

  get port(): number {
    return this.ua.localPort;
  }

  async send(text: string): Promise<void> {
    this.ua.send(text);
  }

  async next(pred: (m: SipMessage) => boolean, ms = 3000): Promise<SipMessage> {
    const m = await this.ua.next(pred, ms);
    this.received.push(m);
    return m;
  }

  close(): void {
    this.ua.close();
  }
}

/** Messages already handed out by `next` (UDP ends keep everything for the scan). */
const taken = new WeakSet<SipMessage>();

let seq = 0;
const branch = () => `z9hG4bK-at-${++seq}-${Date.now().toString(36)}`;

/** A request as its sender writes it (Content-Length computed). */
function request(startLine: string, headers: string[], body = ''): string {
  return `${[startLine, ...headers, `Content-Length: ${Buffer.byteLength(body)}`].join('\r\n')}\r\n\r\n${body}`;
}

/** The response a UAS writes to `req`: Via, From, To (with a tag), Call-ID, CSeq, Record-Route copied. */
function response(req: SipMessage, status: string, toTag: string, extra: string[] = []): string {
  const lines = [`SIP/2.0 ${status}`, ...req.headerLines('Via').map((v) => `Via: ${v}`)];
  for (const rr of req.headerLines('Record-Route')) lines.push(`Record-Route: ${rr}`);
  const to = req.header('To')!;
  lines.push(
    `From: ${req.header('From')}`,
    `To: ${/;\s*tag=/.test(to) ? to : `${to};tag=${toTag}`}`,
    `Call-ID: ${req.callId}`,
    `CSeq: ${req.header('CSeq')}`,
    ...extra,
    'Content-Length: 0',
  );
  return `${lines.join('\r\n')}\r\n\r\n`;
}

const uriOf = (nameAddr: string) => /<([^>]+)>/.exec(nameAddr)?.[1] ?? nameAddr;
const embeddedReplaces = (referTo: string) =>
  decodeURIComponent(/[?&]Replaces=([^&>]*)/i.exec(referTo)?.[1] ?? '').replace(/%3B/gi, ';');

const ROWS = [
  { name: 'UDP phone, hiding on', transport: 'udp' as const, hide: true, net: 20 },
  { name: 'TCP phone, hiding on', transport: 'tcp' as const, hide: true, net: 21 },
  { name: 'UDP phone, hiding off', transport: 'udp' as const, hide: false, net: 22 },
];

for (const row of ROWS) {
  describe(`attended transfer through sipwarden to a B2BUA PBX, ${row.name}`, () => {
    const SW = `127.106.${row.net}.1`;
    const PHONE = `127.106.${row.net}.2`;
    let sw: SipwardenInstance;
    let phone: End;
    let pbx: UdpEnd;
    let phoneContact: string;
    /** The PBX's view of the phone's registration: Contact and Path. */
    let path: string;
    let target: string;

    // Dialog 1: the PBX called the phone. Dialog 2: the phone called the PBX.
    const d1 = { pbxCallId: `pbx-d1-${row.net}@${PBX}`, phoneCallId: '', pbxTag: 'pbx-t1', phoneTag: 'ph-t1' };
    const d2 = { phoneCallId: `ph-d2-${row.net}@${PHONE}`, pbxCallId: '', pbxTag: 'pbx-t2', phoneTag: 'ph-t2' };
    /** What each end learned from the other in each dialog: the remote target and route set. */
    const phoneSide = { d1: { target: '', routes: [] as string[] }, d2: { target: '', routes: [] as string[] } };
    const pbxSide = { d2: { routes: [] as string[] } };

    const via = () =>
      `Via: SIP/2.0/${row.transport.toUpperCase()} ${PHONE}:${row.transport === 'tcp' ? (phone as TcpEnd).port : PHONE_PORT};branch=${branch()};rport`;
    const pbxVia = () => `Via: SIP/2.0/UDP ${PBX}:${PBX_PORT};branch=${branch()};rport`;

    before(async () => {
      sw = await startSipwarden(
        [
          `listen: [udp://${SW}:${SW_PORT}, tcp://${SW}:${SW_PORT}]`,
          `upstreams: [{ name: pbx, targets: [udp://${PBX}:${PBX_PORT}], ping: false }]`,
          ...(row.hide ? [] : ['topology: { hide: false }']),
          '',
        ].join('\n'),
        { listeners: 2 },
      );
      const to = { host: SW, port: SW_PORT };
      phone = row.transport === 'tcp' ? await TcpEnd.open(PHONE, to) : await UdpEnd.open(PHONE, PHONE_PORT, to);
      pbx = await UdpEnd.open(PBX, PBX_PORT, to);
      const port = row.transport === 'tcp' ? (phone as TcpEnd).port : PHONE_PORT;
      phoneContact = `<sip:alice@${PHONE}:${port}${row.transport === 'tcp' ? ';transport=tcp' : ''}>`;
    });

    after(async () => {
      phone?.close();
      pbx?.close();
      await sw?.stop();
    });

    it('the phone registers; the PBX calls it (dialog 1) and it calls the PBX (dialog 2)', async () => {
      await phone.send(
        request(`REGISTER sip:${SW}:${SW_PORT} SIP/2.0`, [
          via(),
          'Max-Forwards: 70',
          'From: <sip:alice@example.com>;tag=reg1',
          'To: <sip:alice@example.com>',
          `Call-ID: reg-${row.net}@${PHONE}`,
          'CSeq: 1 REGISTER',
          `Contact: ${phoneContact}`,
          'Expires: 60',
        ]),
      );
      const reg = await pbx.next((m) => m.isRequest && m.method === 'REGISTER');
      path = uriOf(reg.header('Path')!);
      target = uriOf(reg.header('Contact')!);
      await pbx.send(response(reg, '200 OK', 'r1', [`Contact: ${reg.header('Contact')};expires=60`]));
      await phone.next((m) => !m.isRequest && m.cseq.method === 'REGISTER');

      // Dialog 1: the PBX's call, through the Path.
      await pbx.send(
        request(`INVITE ${target} SIP/2.0`, [
          pbxVia(),
          `Route: <${path}>`,
          'Max-Forwards: 70',
          `From: <sip:100@${PBX}>;tag=${d1.pbxTag}`,
          'To: <sip:alice@example.com>',
          `Call-ID: ${d1.pbxCallId}`,
          'CSeq: 1 INVITE',
          `Contact: <sip:100@${PBX}:${PBX_PORT}>`,
        ]),
      );
      const inv1 = await phone.next((m) => m.isRequest && m.method === 'INVITE');
      d1.phoneCallId = inv1.callId;
      phoneSide.d1 = { target: uriOf(inv1.header('Contact')!), routes: inv1.recordRoutes.map((r) => `<${r.uriText}>`) };
      await phone.send(response(inv1, '200 OK', d1.phoneTag, [`Contact: ${phoneContact}`]));
      const ok1 = await pbx.next((m) => !m.isRequest && m.callId === d1.pbxCallId);
      assert.equal(ok1.status, 200);
      if (row.hide) {
        assert.notEqual(d1.phoneCallId, d1.pbxCallId, 'the PBX Call-ID left sealed');
        assert.match(d1.phoneCallId, /^[a-z2-7]{40,}$/);
      } else assert.equal(d1.phoneCallId, d1.pbxCallId);

      // Dialog 2: the phone's call to the PBX.
      await phone.send(
        request(`INVITE sip:200@${SW}:${SW_PORT} SIP/2.0`, [
          via(),
          'Max-Forwards: 70',
          `From: <sip:alice@example.com>;tag=${d2.phoneTag}`,
          'To: <sip:200@example.com>',
          `Call-ID: ${d2.phoneCallId}`,
          'CSeq: 1 INVITE',
          `Contact: ${phoneContact}`,
        ]),
      );
      const inv2 = await pbx.next((m) => m.isRequest && m.method === 'INVITE');
      d2.pbxCallId = inv2.callId;
      pbxSide.d2.routes = inv2.recordRoutes.map((r) => `<${r.uriText}>`);
      await pbx.send(response(inv2, '200 OK', d2.pbxTag, [`Contact: <sip:200@${PBX}:${PBX_PORT}>`]));
      const ok2 = await phone.next((m) => !m.isRequest && m.callId === d2.phoneCallId);
      phoneSide.d2 = {
        target: uriOf(ok2.header('Contact')!),
        routes: ok2.recordRoutes.map((r) => `<${r.uriText}>`).reverse(),
      };
      if (row.hide) assert.match(d2.pbxCallId, new RegExp(`^${d2.phoneCallId.replace(/\./g, '\\.')}~[a-z2-7]{8}$`));
      else assert.equal(d2.pbxCallId, d2.phoneCallId);
    });

    it('the phone transfers: its REFER names dialog 1 in Refer-To?Replaces and Target-Dialog; the PBX finds it', async () => {
      const replaces = `${d1.phoneCallId};to-tag=${d1.pbxTag};from-tag=${d1.phoneTag}`;
      const escaped = encodeURIComponent(replaces).replace(/;/g, '%3B').replace(/=/g, '%3D');
      await phone.send(
        request(`REFER ${phoneSide.d2.target} SIP/2.0`, [
          via(),
          ...phoneSide.d2.routes.map((r) => `Route: ${r}`),
          'Max-Forwards: 70',
          `From: <sip:alice@example.com>;tag=${d2.phoneTag}`,
          `To: <sip:200@example.com>;tag=${d2.pbxTag}`,
          `Call-ID: ${d2.phoneCallId}`,
          'CSeq: 2 REFER',
          `Contact: ${phoneContact}`,
          `Refer-To: <${phoneSide.d1.target}?Replaces=${escaped}>`,
          `Target-Dialog: ${d1.phoneCallId};local-tag=${d1.phoneTag};remote-tag=${d1.pbxTag}`,
          'Referred-By: <sip:alice@example.com>',
        ]),
      );
      const refer = await pbx.next((m) => m.isRequest && m.method === 'REFER');
      assert.equal(refer.callId, d2.pbxCallId, 'the REFER belongs to dialog 2 as the PBX knows it');
      const referTo = refer.header('Refer-To')!;
      // The PBX gets its own Contact back as the target, and its own Call-ID in Replaces.
      assert.equal(uriOf(referTo).split('?')[0], `sip:100@${PBX}:${PBX_PORT}`);
      assert.equal(embeddedReplaces(referTo), `${d1.pbxCallId};to-tag=${d1.pbxTag};from-tag=${d1.phoneTag}`);
      assert.equal(refer.header('Target-Dialog'), `${d1.pbxCallId};local-tag=${d1.phoneTag};remote-tag=${d1.pbxTag}`);

      // 202, then the progress in a NOTIFY whose sipfrag carries the inside's headers.
      await pbx.send(response(refer, '202 Accepted', d2.pbxTag));
      await phone.next((m) => !m.isRequest && m.cseq.method === 'REFER' && m.status === 202);
      const frag = `SIP/2.0 200 OK\r\nContact: <sip:100@${PBX}:${PBX_PORT}>\r\nServer: internal-pbx\r\n`;
      await pbx.send(
        request(
          `NOTIFY ${target} SIP/2.0`,
          [
            pbxVia(),
            ...pbxSide.d2.routes.map((r) => `Route: ${r}`),
            'Max-Forwards: 70',
            `From: <sip:200@example.com>;tag=${d2.pbxTag}`,
            `To: <sip:alice@example.com>;tag=${d2.phoneTag}`,
            `Call-ID: ${d2.pbxCallId}`,
            'CSeq: 1 NOTIFY',
            'Event: refer',
            'Subscription-State: terminated;reason=noresource',
            `Contact: <sip:200@${PBX}:${PBX_PORT}>`,
            'Content-Type: message/sipfrag;version=2.0',
          ],
          frag,
        ),
      );
      const notify = await phone.next((m) => m.isRequest && m.method === 'NOTIFY');
      assert.equal(notify.callId, d2.phoneCallId, "the NOTIFY names the phone's own dialog 2");
      assert.equal(notify.body.toString(), row.hide ? 'SIP/2.0 200 OK\r\n' : frag);
    });

    it('the phone sends an INVITE with Replaces for dialog 1: the PBX gets its own Call-ID', async () => {
      await phone.send(
        request(`INVITE ${phoneSide.d1.target} SIP/2.0`, [
          via(),
          'Max-Forwards: 70',
          `From: <sip:alice@example.com>;tag=ph-t3`,
          'To: <sip:100@example.com>',
          `Call-ID: ph-d3-${row.net}@${PHONE}`,
          'CSeq: 1 INVITE',
          `Contact: ${phoneContact}`,
          `Replaces: ${d1.phoneCallId};to-tag=${d1.pbxTag};from-tag=${d1.phoneTag}`,
        ]),
      );
      const inv = await pbx.next((m) => m.isRequest && m.method === 'INVITE' && m.header('Replaces') !== undefined);
      assert.equal(inv.requestUriText, `sip:100@${PBX}:${PBX_PORT}`);
      assert.equal(inv.header('Replaces'), `${d1.pbxCallId};to-tag=${d1.pbxTag};from-tag=${d1.phoneTag}`);
      await pbx.send(response(inv, '486 Busy Here', 'x3'));
      await phone.next((m) => !m.isRequest && m.status === 486);
    });

    it('the PBX transfers: its REFER in dialog 1 names dialog 2 and one of its extensions; the phone finds its dialog', async () => {
      const replaces = `${d2.pbxCallId};to-tag=${d2.phoneTag};from-tag=${d2.pbxTag}`;
      const escaped = encodeURIComponent(replaces).replace(/;/g, '%3B').replace(/=/g, '%3D');
      await pbx.send(
        request(`REFER ${target} SIP/2.0`, [
          pbxVia(),
          `Route: <${path}>`,
          'Max-Forwards: 70',
          `From: <sip:100@${PBX}>;tag=${d1.pbxTag}`,
          `To: <sip:alice@example.com>;tag=${d1.phoneTag}`,
          `Call-ID: ${d1.pbxCallId}`,
          'CSeq: 2 REFER',
          `Contact: <sip:100@${PBX}:${PBX_PORT}>`,
          `Refer-To: <sip:300@${PBX}:${PBX_PORT}?Replaces=${escaped}>`,
          `Referred-By: <sip:100@${PBX}>`,
        ]),
      );
      const refer = await phone.next((m) => m.isRequest && m.method === 'REFER');
      assert.equal(refer.callId, d1.phoneCallId, 'the REFER belongs to dialog 1 as the phone knows it');
      const referTo = refer.header('Refer-To')!;
      assert.equal(embeddedReplaces(referTo), `${d2.phoneCallId};to-tag=${d2.phoneTag};from-tag=${d2.pbxTag}`);
      const referTarget = uriOf(referTo).split('?')[0]!;
      if (row.hide) assert.match(referTarget, new RegExp(`^sip:[a-z2-7]+@${SW.replace(/\./g, '\\.')}:${SW_PORT}`));
      else assert.equal(referTarget, `sip:300@${PBX}:${PBX_PORT}`);
      await phone.send(response(refer, '202 Accepted', d1.phoneTag));
      await pbx.next((m) => !m.isRequest && m.cseq.method === 'REFER');

      // As the transferee, the phone calls the Refer-To target with the Replaces it carried.
      await phone.send(
        request(`INVITE ${referTarget} SIP/2.0`, [
          via(),
          'Max-Forwards: 70',
          `From: <sip:alice@example.com>;tag=ph-t4`,
          'To: <sip:300@example.com>',
          `Call-ID: ph-d4-${row.net}@${PHONE}`,
          'CSeq: 1 INVITE',
          `Contact: ${phoneContact}`,
          `Replaces: ${embeddedReplaces(referTo)}`,
          `Referred-By: ${refer.header('Referred-By')}`,
        ]),
      );
      const inv = await pbx.next(
        (m) => m.isRequest && m.method === 'INVITE' && m.requestUriText.startsWith('sip:300@'),
      );
      assert.equal(inv.requestUriText, `sip:300@${PBX}:${PBX_PORT}`, 'the extension, exactly as the PBX named it');
      assert.equal(inv.header('Replaces'), replaces, 'dialog 2 as the PBX knows it');
      await pbx.send(response(inv, '486 Busy Here', 'x4'));
      await phone.next((m) => !m.isRequest && m.status === 486 && m.callId === `ph-d4-${row.net}@${PHONE}`);
    });

    it('the PBX sends an INVITE with Replaces for its dialog 1: the phone gets the Call-ID it knows', async () => {
      await pbx.send(
        request(`INVITE ${target} SIP/2.0`, [
          pbxVia(),
          `Route: <${path}>`,
          'Max-Forwards: 70',
          `From: <sip:100@${PBX}>;tag=pbx-t5`,
          'To: <sip:alice@example.com>',
          `Call-ID: pbx-d5-${row.net}@${PBX}`,
          'CSeq: 1 INVITE',
          `Contact: <sip:100@${PBX}:${PBX_PORT}>`,
          `Replaces: ${d1.pbxCallId};to-tag=${d1.phoneTag};from-tag=${d1.pbxTag}`,
        ]),
      );
      const inv = await phone.next((m) => m.isRequest && m.method === 'INVITE' && m.header('Replaces') !== undefined);
      assert.equal(inv.header('Replaces'), `${d1.phoneCallId};to-tag=${d1.phoneTag};from-tag=${d1.pbxTag}`);
      await phone.send(response(inv, '486 Busy Here', 'x5'));
      await pbx.next((m) => !m.isRequest && m.status === 486);
    });

    if (row.hide) {
      it('the phone saw nothing of the inside in any of these messages', () => {
        const raw = phone.received.map((m) => m.raw);
        assertNothingInternal(raw, [/127\.107\./, /:35070\b/, /internal-pbx/i]);
        assert.ok(raw.length >= 8, `scanned ${raw.length} messages`);
      });
    }
  });
}

/**
 * Attended transfer between three phones through sipwarden and a proxying registrar (Kamailio):
 * every Call-ID is a phone's own, so the Replaces that alice writes crosses sipwarden twice,
 * marked going in and unmarked going out, and carol must get exactly the Call-ID she knows.
 * Kamailio 127.107.0.40:35045; sipwarden 127.106.23-24.1; phones .2, .3, .4 at 35310.
 */
const PROXY_ROWS = [
  { name: 'hiding on', hide: true, net: 23 },
  { name: 'hiding off', hide: false, net: 24 },
];
const KAM = '127.107.0.40';
const KAM_PORT = 35045;

for (const row of PROXY_ROWS) {
  describe(`attended transfer between phones through sipwarden and Kamailio, ${row.name}`, () => {
    const SW = `127.106.${row.net}.1`;
    let kam: KamailioInstance;
    let sw: SipwardenInstance;
    const phones: Record<string, UdpEnd> = {};
    const addr = (user: string) => `127.106.${row.net}.${{ alice: 2, bob: 3, carol: 4 }[user]}`;
    const contact = (user: string) => `<sip:${user}@${addr(user)}:35310>`;
    const via = (user: string) => `Via: SIP/2.0/UDP ${addr(user)}:35310;branch=${branch()};rport`;
    /** What alice learned from each 200: the remote target and the route set. */
    const dialogs: Record<string, { target: string; routes: string[]; callId: string }> = {};

    before(async () => {
      kam = await startKamailioProxy({ ip: KAM, port: KAM_PORT, domain: 'interop.test' });
      sw = await startSipwarden(
        [
          `listen: [udp://${SW}:${SW_PORT}]`,
          `upstreams: [{ name: pbx, targets: [udp://${KAM}:${KAM_PORT}], ping: false }]`,
          ...(row.hide ? [] : ['topology: { hide: false }']),
          '',
        ].join('\n'),
        { listeners: 1 },
      );
      for (const user of ['alice', 'bob', 'carol']) {
        phones[user] = await UdpEnd.open(addr(user), 35310, { host: SW, port: SW_PORT });
      }
    });

    after(async () => {
      for (const p of Object.values(phones)) p.close();
      await sw?.stop();
      await kam?.stop();
    });

    /** `from` calls `to`; `to` answers; returns the INVITE `to` received. */
    async function call(from: string, to: string, callId: string, extra: string[] = []): Promise<SipMessage> {
      await phones[from]!.send(
        request(`INVITE sip:${to}@interop.test SIP/2.0`, [
          via(from),
          'Max-Forwards: 70',
          `From: <sip:${from}@interop.test>;tag=${from}-${callId.slice(0, 2)}`,
          `To: <sip:${to}@interop.test>`,
          `Call-ID: ${callId}`,
          'CSeq: 1 INVITE',
          `Contact: ${contact(from)}`,
          ...extra,
        ]),
      );
      const inv = await phones[to]!.next((m) => m.isRequest && m.method === 'INVITE' && m.callId.startsWith(callId));
      await phones[to]!.send(response(inv, '200 OK', `${to}-${callId.slice(0, 2)}`, [`Contact: ${contact(to)}`]));
      const ok = await phones[from]!.next((m) => !m.isRequest && m.status === 200 && m.callId === callId);
      dialogs[callId] = {
        target: uriOf(ok.header('Contact')!),
        routes: ok.recordRoutes.map((r) => `<${r.uriText}>`).reverse(),
        callId: inv.callId,
      };
      return inv;
    }

    it('all three register; alice calls bob, then carol', async () => {
      for (const user of ['alice', 'bob', 'carol']) {
        await phones[user]!.send(
          request(`REGISTER sip:interop.test SIP/2.0`, [
            via(user),
            'Max-Forwards: 70',
            `From: <sip:${user}@interop.test>;tag=r-${user}`,
            `To: <sip:${user}@interop.test>`,
            `Call-ID: reg-${user}-${row.net}`,
            'CSeq: 1 REGISTER',
            `Contact: ${contact(user)}`,
            'Expires: 60',
          ]),
        );
        const ok = await phones[user]!.next((m) => !m.isRequest && m.cseq.method === 'REGISTER');
        assert.equal(ok.status, 200);
      }
      const ab = await call('alice', 'bob', `ab-${row.net}@alice`);
      const ac = await call('alice', 'carol', `ac-${row.net}@alice`);
      // Through a proxy the phones' own Call-IDs reach the other phones as they are.
      assert.equal(ab.callId, `ab-${row.net}@alice`);
      assert.equal(ac.callId, `ac-${row.net}@alice`);
    });

    it('alice refers bob to carol with Replaces; bob invites carol; carol finds her dialog with alice', async () => {
      const ab = dialogs[`ab-${row.net}@alice`]!;
      const ac = dialogs[`ac-${row.net}@alice`]!;
      const replaces = `${ac.callId};to-tag=carol-ac;from-tag=alice-ac`;
      const escaped = encodeURIComponent(replaces).replace(/;/g, '%3B').replace(/=/g, '%3D');
      await phones.alice!.send(
        request(`REFER ${ab.target} SIP/2.0`, [
          via('alice'),
          ...ab.routes.map((r) => `Route: ${r}`),
          'Max-Forwards: 70',
          'From: <sip:alice@interop.test>;tag=alice-ab',
          'To: <sip:bob@interop.test>;tag=bob-ab',
          `Call-ID: ${ab.callId}`,
          'CSeq: 2 REFER',
          `Contact: ${contact('alice')}`,
          `Refer-To: <sip:carol@interop.test?Replaces=${escaped}>`,
        ]),
      );
      const refer = await phones.bob!.next((m) => m.isRequest && m.method === 'REFER');
      assert.equal(refer.callId, ab.callId);
      assert.equal(embeddedReplaces(refer.header('Refer-To')!), replaces, 'the Replaces as alice wrote it');
      await phones.bob!.send(response(refer, '202 Accepted', 'bob-ab'));
      await phones.alice!.next((m) => !m.isRequest && m.status === 202);

      const inv = await call('bob', 'carol', `bc-${row.net}@bob`, [
        `Replaces: ${embeddedReplaces(refer.header('Refer-To')!)}`,
      ]);
      assert.equal(
        inv.header('Replaces'),
        replaces,
        'carol gets her dialog with alice: the Call-ID she knows, the tags',
      );
    });

    if (row.hide) {
      it('the phones saw nothing of the inside', () => {
        const raw = Object.values(phones).flatMap((p) => p.received.map((m) => m.raw));
        assertNothingInternal(raw, [/127\.107\./, /:35045\b/, /kamailio/i]);
        assert.ok(raw.length >= 12, `scanned ${raw.length} messages`);
      });
    }
  });
}
