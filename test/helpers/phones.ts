/**
 * Messages as real phones and PBXs send them, for false-positive tests of the guards: the
 * User-Agent strings are those the products put on the wire, the header layouts follow
 * their traces (compact forms, IPv6, `+49` numbers, user names with dots, dashes and plus
 * signs).
 */
import { raw } from './messages.js';

/** User-Agent strings of phones, softphones and PBXs. */
export const REAL_USER_AGENTS: readonly string[] = [
  'Yealink SIP-T46S 66.86.0.15',
  'Yealink SIP-T54W 96.86.0.100',
  'PolycomVVX-VVX_411-UA/6.3.1.8427',
  'PolycomSoundPointIP-SPIP_550-UA/4.0.15.1009',
  'Linphone Desktop/5.2.4 (Ubuntu 22.04.3 LTS, Qt 5.15.2) LinphoneCore/5.3.0',
  'LinphoneAndroid/5.1.4 (Pixel 7) LinphoneSDK/5.2.98',
  'Z 5.6.4 v2.10.20.3',
  'Z 3.14.38765 rv2.8.3',
  'Zoiper rv2.10.19.2-mod',
  'Grandstream GXP2170 1.0.11.3',
  'Grandstream HT801 1.0.43.11',
  'MicroSIP/3.21.3',
  'Bria 6 release 6.5.6 stamp 109213',
  'Cisco/SPA504G-7.6.2f',
  'Cisco-CP8865/14.2.1',
  'snom D785/10.1.141.13',
  'Asterisk PBX 20.5.0',
  'FreeSWITCH-mod_sofia/1.10.10-release~64bit',
  'Fanvil X6U 2.12.6.1',
  'Gigaset N510 IP PRO/42.245.00.000.000',
  'AVM FRITZ!Box 7590 154.07.57 (Mar 20 2023)',
  'Obihai OBi200 3.2.2 (Build: 5921EX)',
  '3CXPhoneSystem 18.0.9.20 (20)',
  'PJSUA v2.14.1 Linux-6.5.0/x86_64/glibc-2.38',
  'Telephone 1.5',
  'Jitsi2.10.5550Linux',
  'Acrobits Softphone/7.2.5',
  'Sipdroid/5.0 beta/Pixel 4a',
  'CSipSimple_a3y17lte-27/r2457',
  'Kamailio (5.6.3 (x86_64/linux))',
  'OpenSIPS (3.4.2 (x86_64/linux))',
  'Ooma Telo/312.4.11',
  'Panasonic_KX-UT136/01.133 (0080f0d3b0a1)',
  'Aastra 6757i/3.3.1.4322',
  'Mitel 6867i/5.1.0.2051',
  'Avaya one-X Deskphone',
  'HTL-Phone/1.0',
  'Htek UC924 2.0.4.4.36',
];

const SDP = [
  'v=0',
  'o=- 20070 20070 IN IP4 192.0.2.41',
  's=SDP data',
  'c=IN IP4 192.0.2.41',
  't=0 0',
  'm=audio 11780 RTP/AVP 9 0 8 101',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15',
  '',
].join('\r\n');

/** A Yealink calling a German number through the edge, with SDP. */
export function invite(options: { userAgent?: string; body?: string } = {}): Buffer {
  const body = options.body ?? SDP;
  return raw(
    [
      'INVITE sip:+4930123456789@pbx.example.com;user=phone SIP/2.0',
      'Via: SIP/2.0/UDP 192.0.2.41:5060;branch=z9hG4bK1843920717;rport',
      'Max-Forwards: 70',
      'From: "Reception Desk" <sip:2001@pbx.example.com>;tag=1537216914',
      'To: <sip:+4930123456789@pbx.example.com;user=phone>',
      'Call-ID: 0_2736412201@192.0.2.41',
      'CSeq: 2 INVITE',
      'Contact: <sip:2001@192.0.2.41:5060>',
      'Content-Type: application/sdp',
      'Allow: INVITE, INFO, PRACK, ACK, BYE, CANCEL, OPTIONS, NOTIFY, REGISTER, SUBSCRIBE, REFER, UPDATE, MESSAGE',
      'Supported: replaces, timer',
      `User-Agent: ${options.userAgent ?? 'Yealink SIP-T46S 66.86.0.15'}`,
      'Proxy-Authorization: Digest username="first.last-2001+home", realm="pbx.example.com", nonce="a2c4e6", uri="sip:+4930123456789@pbx.example.com;user=phone", response="29cec259dd77ec7928f0ac5b5d8d5ec3", algorithm=MD5, qop=auth, nc=00000001, cnonce="6b8b4567"',
      `Content-Length: ${Buffer.byteLength(body)}`,
    ],
    body,
  );
}

/** A Grandstream registering with digest credentials. */
export function register(options: { userAgent?: string } = {}): Buffer {
  return raw([
    'REGISTER sip:pbx.example.com SIP/2.0',
    'Via: SIP/2.0/UDP 192.168.1.23:5060;branch=z9hG4bK1672835711;rport',
    'From: "Warehouse" <sip:j.doe-2003@pbx.example.com>;tag=1260401593',
    'To: "Warehouse" <sip:j.doe-2003@pbx.example.com>',
    'Call-ID: 1727380212-5060-3@BJC.BGI.B.CD',
    'CSeq: 2 REGISTER',
    'Contact: <sip:j.doe-2003@192.168.1.23:5060;transport=udp>;reg-id=1;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000B82A1C3F4>";expires=3600',
    'Authorization: Digest username="j.doe-2003", realm="asterisk", nonce="1b8e1d9c", uri="sip:pbx.example.com", response="29cec259dd77ec7928f0ac5b5d8d5ec3", algorithm=MD5, qop=auth, nc=00000001, cnonce="6b8b4567"',
    'Max-Forwards: 70',
    `User-Agent: ${options.userAgent ?? 'Grandstream GXP2170 1.0.11.3'}`,
    'Supported: path',
    'Expires: 3600',
    'Content-Length: 0',
  ]);
}

/** Linphone over IPv6, compact headers, an OPTIONS keep-alive. */
export function options(options: { userAgent?: string } = {}): Buffer {
  return raw([
    'OPTIONS sip:pbx.example.com SIP/2.0',
    'v: SIP/2.0/UDP [2001:db8::41]:5060;branch=z9hG4bK.3kQ8bW1;rport',
    'f: <sip:alice.smith@pbx.example.com>;tag=gK0a1b2c3',
    't: <sip:alice.smith@pbx.example.com>',
    'i: 7f3e0b2d41f9c8a6',
    'CSeq: 20 OPTIONS',
    'Max-Forwards: 70',
    'm: <sip:alice.smith@[2001:db8::41]:5060;transport=udp>',
    `User-Agent: ${options.userAgent ?? 'Linphone Desktop/5.2.4 (Ubuntu 22.04.3 LTS, Qt 5.15.2) LinphoneCore/5.3.0'}`,
    'Accept: application/sdp',
    'l: 0',
  ]);
}

/** Zoiper ending a call, in-dialog (To tag, Route set). */
export function bye(options: { userAgent?: string } = {}): Buffer {
  return raw([
    'BYE sip:+4930123456789@203.0.113.20:5060 SIP/2.0',
    'Via: SIP/2.0/UDP 198.51.100.23:41874;branch=z9hG4bK-524287-1---d3e1f8c2a1b0;rport',
    'Max-Forwards: 70',
    'Route: <sip:203.0.113.10;lr;r2=on;did=4b1.a1e2>',
    'Contact: <sip:2001@198.51.100.23:41874;transport=UDP>',
    'To: <sip:+4930123456789@pbx.example.com>;tag=as5f7c1d2e',
    'From: <sip:2001@pbx.example.com;transport=UDP>;tag=0c4f7a6d',
    'Call-ID: Njk1ZGQ4MDBmYmI3YzM5ZDM0MjhjNzE3OGU0NjZmZGE',
    'CSeq: 3 BYE',
    `User-Agent: ${options.userAgent ?? 'Z 5.6.4 v2.10.20.3'}`,
    'Reason: Q.850;cause=16;text="Normal call clearing"',
    'Content-Length: 0',
  ]);
}

/** A Polycom answering a call: 200 OK with Record-Route copied from the INVITE. */
export function ok200(options: { server?: string; recordRoute?: string } = {}): Buffer {
  const body = SDP;
  return raw(
    [
      'SIP/2.0 200 OK',
      'Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bK2ea1251df97b.1',
      'Via: SIP/2.0/UDP 10.30.0.1:5060;branch=z9hG4bK5a1c.7f3e',
      `Record-Route: ${options.recordRoute ?? '<sip:203.0.113.10;lr;r2=on>'}`,
      'From: <sip:+4930555000@pbx.example.com>;tag=1537216914',
      'To: "Sales" <sip:2002@pbx.example.com>;tag=Hq~3bSL3z',
      'Call-ID: 0_2736412201@10.30.0.1',
      'CSeq: 2 INVITE',
      'Contact: <sip:2002@198.51.100.30:5062>',
      `Server: ${options.server ?? 'PolycomVVX-VVX_411-UA/6.3.1.8427'}`,
      'Content-Type: application/sdp',
      `Content-Length: ${Buffer.byteLength(body)}`,
    ],
    body,
  );
}
