/**
 * The message mix for the parser benchmark: one call (INVITE / 200 / ACK / BYE) through two
 * record-routing proxies, a digest registration (401 then REGISTER with credentials), a PBX
 * qualify OPTIONS and a compact-form MESSAGE. Header order, parameter styles and quirks follow
 * what the named user agents put on the wire (Asterisk's double space after
 * `Content-Length:`, Linphone's quoted Contact feature tags, Grandstream's Call-IDs...).
 *
 * Each message carries the values every parser must read from it, so the benchmark can check
 * that a parser really understood the message before timing it.
 */

/** The fields the benchmark reads from every parsed message, whatever the parser. */
export interface MessageReads {
  /** `branch` parameter of the top Via. */
  branch: string | undefined;
  cseqSeq: number;
  cseqMethod: string;
  callId: string;
  /** `tag` parameter of From. */
  fromTag: string | undefined;
  /** User-Agent value, or Server when the message has no User-Agent (responses). */
  userAgent: string | undefined;
}

export interface BenchMessage {
  name: string;
  raw: Buffer;
  expected: MessageReads;
}

const CONTENT_LENGTH = '{content-length}';

/**
 * Joins header lines with CRLF and appends the body. The one line holding `{content-length}`
 * gets the body's length in bytes, so UTF-8 bodies are declared correctly.
 */
function sipMessage(lines: readonly string[], body = ''): Buffer {
  const withLength = lines.filter((line) => line.includes(CONTENT_LENGTH));
  if (withLength.length !== 1) {
    throw new Error(`expected exactly one ${CONTENT_LENGTH} line, got ${withLength.length}`);
  }
  const head = lines.map((line) => line.replace(CONTENT_LENGTH, String(Buffer.byteLength(body, 'utf8')))).join('\r\n');
  return Buffer.from(`${head}\r\n\r\n${body}`, 'utf8');
}

/** An SDP body: every line, the last one included, ends with CRLF. */
function sdp(lines: readonly string[]): string {
  return `${lines.join('\r\n')}\r\n`;
}

// The call: Yealink 2001 calls Linphone 2002 through the edge (203.0.113.10, Kamailio-style
// record-routing) and an internal proxy (10.30.0.1). Seen at the callee, the INVITE has three
// Vias and two Record-Routes.
const YEALINK_UA = 'Yealink SIP-T46S 66.86.0.15';
const LINPHONE_UA = 'Linphone Desktop/5.2.4 (Ubuntu 22.04.3 LTS, Qt 5.15.2) LinphoneCore/5.3.0';
const CALL_ID = '0_2736412201@10.20.0.41';
const CALLER_TAG = '1537216914';
const CALLEE_TAG = 'Hq~3bSL3z';
const CALL_VIAS = [
  'Via: SIP/2.0/UDP 10.30.0.1:5060;branch=z9hG4bK5a1c.7f3e0b2d41f9c8a6e2d3b4c5a6978012.0',
  'Via: SIP/2.0/UDP 203.0.113.10:5060;received=203.0.113.10;branch=z9hG4bK2ea1251df97b.1;rport=5060',
  'Via: SIP/2.0/UDP 10.20.0.41:5060;received=198.51.100.23;branch=z9hG4bK1843920717;rport=41874',
];
const CALL_RECORD_ROUTES = [
  'Record-Route: <sip:10.30.0.1;lr;ftag=1537216914>',
  'Record-Route: <sip:203.0.113.10;lr;r2=on;did=4b1.a1e2>',
];

const invite: BenchMessage = {
  name: 'INVITE+SDP',
  raw: sipMessage(
    [
      'INVITE sip:2002@10.30.0.22:5062;transport=udp SIP/2.0',
      ...CALL_VIAS,
      ...CALL_RECORD_ROUTES,
      'Max-Forwards: 68',
      `From: "Reception Desk" <sip:2001@pbx.example.com>;tag=${CALLER_TAG}`,
      'To: <sip:2002@pbx.example.com>',
      `Call-ID: ${CALL_ID}`,
      'CSeq: 2 INVITE',
      'Contact: <sip:2001@198.51.100.23:41874>',
      'Content-Type: application/sdp',
      'Allow: INVITE, INFO, PRACK, ACK, BYE, CANCEL, OPTIONS, NOTIFY, REGISTER, SUBSCRIBE, REFER, PUBLISH, UPDATE, MESSAGE',
      'Supported: replaces, timer',
      'Allow-Events: talk,hold,conference,refer,check-sync',
      `User-Agent: ${YEALINK_UA}`,
      `Content-Length: ${CONTENT_LENGTH}`,
    ],
    sdp([
      'v=0',
      'o=- 20070 20070 IN IP4 10.20.0.41',
      's=SDP data',
      'c=IN IP4 10.20.0.41',
      't=0 0',
      'm=audio 11780 RTP/AVP 9 0 8 18 101',
      'a=rtpmap:9 G722/8000',
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:8 PCMA/8000',
      'a=rtpmap:18 G729/8000',
      'a=fmtp:18 annexb=no',
      'a=ptime:20',
      'a=sendrecv',
      'a=rtpmap:101 telephone-event/8000',
      'a=fmtp:101 0-15',
    ]),
  ),
  expected: {
    branch: 'z9hG4bK5a1c.7f3e0b2d41f9c8a6e2d3b4c5a6978012.0',
    cseqSeq: 2,
    cseqMethod: 'INVITE',
    callId: CALL_ID,
    fromTag: CALLER_TAG,
    userAgent: YEALINK_UA,
  },
};

const inviteOk: BenchMessage = {
  name: '200 OK+SDP',
  raw: sipMessage(
    [
      'SIP/2.0 200 Ok',
      ...CALL_VIAS,
      ...CALL_RECORD_ROUTES,
      `From: "Reception Desk" <sip:2001@pbx.example.com>;tag=${CALLER_TAG}`,
      `To: <sip:2002@pbx.example.com>;tag=${CALLEE_TAG}`,
      `Call-ID: ${CALL_ID}`,
      'CSeq: 2 INVITE',
      'Contact: <sip:2002@10.30.0.22:5062;transport=udp>;+org.linphone.specs="ephemeral,groupchat,groupchat/1.1,lime"',
      `User-Agent: ${LINPHONE_UA}`,
      'Supported: replaces, outbound, gruu, path',
      'Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, MESSAGE, SUBSCRIBE, INFO, PRACK, UPDATE',
      'Content-Type: application/sdp',
      `Content-Length: ${CONTENT_LENGTH}`,
    ],
    sdp([
      'v=0',
      'o=2002 1624 2416 IN IP4 10.30.0.22',
      's=Talk',
      'c=IN IP4 10.30.0.22',
      't=0 0',
      'a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics',
      'm=audio 7078 RTP/AVP 0 8 101',
      'a=rtpmap:101 telephone-event/8000',
      'a=rtcp:7079',
    ]),
  ),
  expected: {
    branch: 'z9hG4bK5a1c.7f3e0b2d41f9c8a6e2d3b4c5a6978012.0',
    cseqSeq: 2,
    cseqMethod: 'INVITE',
    callId: CALL_ID,
    fromTag: CALLER_TAG,
    userAgent: LINPHONE_UA,
  },
};

// ACK for the 2xx, as the Yealink sends it: its own Via, the route set built from the
// Record-Routes (reversed).
const ack: BenchMessage = {
  name: 'ACK',
  raw: sipMessage([
    'ACK sip:2002@10.30.0.22:5062;transport=udp SIP/2.0',
    'Via: SIP/2.0/UDP 10.20.0.41:5060;branch=z9hG4bK3171484587;rport',
    'Route: <sip:203.0.113.10;lr;r2=on;did=4b1.a1e2>',
    'Route: <sip:10.30.0.1;lr;ftag=1537216914>',
    `From: "Reception Desk" <sip:2001@pbx.example.com>;tag=${CALLER_TAG}`,
    `To: <sip:2002@pbx.example.com>;tag=${CALLEE_TAG}`,
    `Call-ID: ${CALL_ID}`,
    'CSeq: 2 ACK',
    'Contact: <sip:2001@198.51.100.23:41874>',
    'Max-Forwards: 70',
    `User-Agent: ${YEALINK_UA}`,
    `Content-Length: ${CONTENT_LENGTH}`,
  ]),
  expected: {
    branch: 'z9hG4bK3171484587',
    cseqSeq: 2,
    cseqMethod: 'ACK',
    callId: CALL_ID,
    fromTag: CALLER_TAG,
    userAgent: YEALINK_UA,
  },
};

// The callee hangs up: belle-sip style branch and tags.
const bye: BenchMessage = {
  name: 'BYE',
  raw: sipMessage([
    'BYE sip:2001@198.51.100.23:41874 SIP/2.0',
    'Via: SIP/2.0/UDP 10.30.0.22:5062;branch=z9hG4bK.yJ3uVd~Xq;rport',
    'Route: <sip:10.30.0.1;lr;ftag=1537216914>',
    'Route: <sip:203.0.113.10;lr;r2=on;did=4b1.a1e2>',
    `From: <sip:2002@pbx.example.com>;tag=${CALLEE_TAG}`,
    `To: "Reception Desk" <sip:2001@pbx.example.com>;tag=${CALLER_TAG}`,
    'CSeq: 21 BYE',
    `Call-ID: ${CALL_ID}`,
    'Max-Forwards: 70',
    `User-Agent: ${LINPHONE_UA}`,
    `Content-Length: ${CONTENT_LENGTH}`,
  ]),
  expected: {
    branch: 'z9hG4bK.yJ3uVd~Xq',
    cseqSeq: 21,
    cseqMethod: 'BYE',
    callId: CALL_ID,
    fromTag: CALLEE_TAG,
    userAgent: LINPHONE_UA,
  },
};

// Registration: Asterisk (PJSIP) challenges the Grandstream's first REGISTER, the phone
// retries with credentials. The digest response is genuine (MD5, qop=auth, for the password
// "Wk7!fq29xLp"), not filler.
const GRANDSTREAM_UA = 'Grandstream GXP2170 1.0.11.23';
const ASTERISK_UA = 'Asterisk PBX 20.5.0';
const REGISTER_CALL_ID = '1493418213-5060-1@BHC.BGC.B.CD';
const REGISTER_FROM_TAG = '1430473094';
const NONCE = '1732541213/4c0f3b7b9a6e2d1f8e5c4b3a29180716';

const unauthorized: BenchMessage = {
  name: '401 Unauthorized',
  raw: sipMessage([
    'SIP/2.0 401 Unauthorized',
    'Via: SIP/2.0/UDP 192.168.1.23:5060;rport=5060;received=198.51.100.77;branch=z9hG4bK1672835710',
    `Call-ID: ${REGISTER_CALL_ID}`,
    `From: "Warehouse" <sip:2003@pbx.example.com>;tag=${REGISTER_FROM_TAG}`,
    'To: "Warehouse" <sip:2003@pbx.example.com>;tag=z9hG4bK1672835710',
    'CSeq: 1 REGISTER',
    `WWW-Authenticate: Digest realm="asterisk",nonce="${NONCE}",opaque="32180ce750b9e065",algorithm=MD5,qop="auth"`,
    `Server: ${ASTERISK_UA}`,
    `Content-Length:  ${CONTENT_LENGTH}`,
  ]),
  expected: {
    branch: 'z9hG4bK1672835710',
    cseqSeq: 1,
    cseqMethod: 'REGISTER',
    callId: REGISTER_CALL_ID,
    fromTag: REGISTER_FROM_TAG,
    userAgent: ASTERISK_UA,
  },
};

const register: BenchMessage = {
  name: 'REGISTER+Digest',
  raw: sipMessage([
    'REGISTER sip:pbx.example.com SIP/2.0',
    'Via: SIP/2.0/UDP 192.168.1.23:5060;branch=z9hG4bK1672835711;rport',
    `From: "Warehouse" <sip:2003@pbx.example.com>;tag=${REGISTER_FROM_TAG}`,
    'To: "Warehouse" <sip:2003@pbx.example.com>',
    `Call-ID: ${REGISTER_CALL_ID}`,
    'CSeq: 2 REGISTER',
    'Contact: <sip:2003@192.168.1.23:5060;transport=udp>;reg-id=1;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000B82A1C3F4>"',
    `Authorization: Digest username="2003", realm="asterisk", nonce="${NONCE}", uri="sip:pbx.example.com", response="29cec259dd77ec7928f0ac5b5d8d5ec3", algorithm=MD5, qop=auth, nc=00000001, cnonce="6b8b4567"`,
    'Max-Forwards: 70',
    `User-Agent: ${GRANDSTREAM_UA}`,
    'Supported: path',
    'Expires: 3600',
    'Allow: INVITE, ACK, OPTIONS, CANCEL, BYE, SUBSCRIBE, NOTIFY, INFO, REFER, UPDATE, MESSAGE',
    `Content-Length: ${CONTENT_LENGTH}`,
  ]),
  expected: {
    branch: 'z9hG4bK1672835711',
    cseqSeq: 2,
    cseqMethod: 'REGISTER',
    callId: REGISTER_CALL_ID,
    fromTag: REGISTER_FROM_TAG,
    userAgent: GRANDSTREAM_UA,
  },
};

// Asterisk qualifying a registered contact.
const OPTIONS_CALL_ID = '96ef781d-6b19-4182-9ee4-aa24d7e7b8fc';
const OPTIONS_FROM_TAG = 'b8d8d77d-a7ea-4c97-a864-ce18643ac074';
const options: BenchMessage = {
  name: 'OPTIONS',
  raw: sipMessage([
    'OPTIONS sip:2001@198.51.100.23:41874 SIP/2.0',
    'Via: SIP/2.0/UDP 203.0.113.20:5060;rport;branch=z9hG4bKPj6f2c0d8e-3b1a-4c57-9e4d-2a7b8c9d0e1f',
    `From: <sip:2001@pbx.example.com>;tag=${OPTIONS_FROM_TAG}`,
    'To: <sip:2001@198.51.100.23>',
    'Contact: <sip:2001@203.0.113.20:5060>',
    `Call-ID: ${OPTIONS_CALL_ID}`,
    'CSeq: 51723 OPTIONS',
    'Max-Forwards: 70',
    `User-Agent: ${ASTERISK_UA}`,
    `Content-Length:  ${CONTENT_LENGTH}`,
  ]),
  expected: {
    branch: 'z9hG4bKPj6f2c0d8e-3b1a-4c57-9e4d-2a7b8c9d0e1f',
    cseqSeq: 51723,
    cseqMethod: 'OPTIONS',
    callId: OPTIONS_CALL_ID,
    fromTag: OPTIONS_FROM_TAG,
    userAgent: ASTERISK_UA,
  },
};

// PJSIP applications can be built to send compact header names (to keep UDP datagrams
// under the MTU). The body is UTF-8, so its length in bytes differs from its length in
// characters.
const PJSUA_UA = 'PJSUA v2.14.1 Linux-6.5.0/x86_64/glibc-2.38';
const COMPACT_CALL_ID = '878ad1b2-e223-4720-9ae5-5a748a144071';
const COMPACT_FROM_TAG = '255d3fc6-47e8-460d-af08-a8f821e3eecf';
const compactMessage: BenchMessage = {
  name: 'MESSAGE compact',
  raw: sipMessage(
    [
      'MESSAGE sip:2002@pbx.example.com SIP/2.0',
      'v: SIP/2.0/UDP 10.20.0.57:5060;rport;branch=z9hG4bKPj28c91c21-d7d9-439a-9d73-6bfd5132b8d0',
      'Max-Forwards: 70',
      `f: <sip:2004@pbx.example.com>;tag=${COMPACT_FROM_TAG}`,
      't: <sip:2002@pbx.example.com>',
      `i: ${COMPACT_CALL_ID}`,
      'CSeq: 31962 MESSAGE',
      'm: <sip:2004@10.20.0.57:5060;ob>',
      `User-Agent: ${PJSUA_UA}`,
      'Accept: text/plain, application/im-iscomposing+xml',
      'c: text/plain;charset=UTF-8',
      `l: ${CONTENT_LENGTH}`,
    ],
    'Livraison au quai 3 à 14h30 — signé Müller ✓',
  ),
  expected: {
    branch: 'z9hG4bKPj28c91c21-d7d9-439a-9d73-6bfd5132b8d0',
    cseqSeq: 31962,
    cseqMethod: 'MESSAGE',
    callId: COMPACT_CALL_ID,
    fromTag: COMPACT_FROM_TAG,
    userAgent: PJSUA_UA,
  },
};

/** The mix, in the order the benchmark cycles through it. */
export const MESSAGE_MIX: readonly BenchMessage[] = [
  invite,
  inviteOk,
  ack,
  bye,
  register,
  unauthorized,
  options,
  compactMessage,
];
