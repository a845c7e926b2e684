/**
 * The built-in responder: answers every request like a small PBX would, without ever
 * touching the upstream. REGISTER is challenged, then accepted whatever the password; INVITE
 * rings and is answered with a valid SDP answer; everything else gets the answer a PBX gives.
 *
 * It keeps two small bounded tables: INVITEs still ringing (so a CANCEL gets its 487) and
 * answered calls waiting for the responder's own BYE (`callDuration`). All other values are
 * derived (HoneypotTokens), so retransmissions and follow-ups get the same answers.
 *
 * Every datagram goes through `send`, which applies the reflection bound and may refuse it.
 */

import type { ListenerInfo, Peer } from '../net/peer.js';
import { SipParseError } from '../sip/errors.js';
import type { SipMessage } from '../sip/message.js';
import { parseMessage } from '../sip/parser.js';
import { honeypotReply } from './reply.js';
import { sdpAnswer } from './sdp.js';
import type { HoneypotTokens } from './tokens.js';

export interface ResponderSettings {
  /** Server / User-Agent banner, or undefined for none. */
  server: string | undefined;
  realm: string;
  /** ms after the ACK before our BYE; 0 never. */
  callDuration: number;
}

/** Sends one message to a peer; false when it was refused (reflection bound, no listener). */
export type SendFn = (peer: Peer, data: Buffer) => boolean;

export const ALLOW =
  'OPTIONS, REGISTER, SUBSCRIBE, NOTIFY, INVITE, ACK, BYE, CANCEL, UPDATE, PRACK, INFO, MESSAGE, REFER';
const SUPPORTED = '100rel, timer, replaces, norefersub';
const ACCEPT = 'application/sdp, application/dialog-info+xml, application/simple-message-summary, message/sipfrag';
/** How long an INVITE rings before the 200 OK. */
export const RING_MS = 800;
/** Registrations are granted at most this many seconds (and at least MIN_EXPIRES). */
export const MAX_EXPIRES = 3600;
const MIN_EXPIRES = 60;
/** Most contacts echoed in a REGISTER's 200 OK. */
const MAX_CONTACTS = 5;
const MAX_URI_CHARS = 256;
/** Bounds of the two tables. */
const MAX_RINGING = 1024;
const MAX_CALLS = 1024;

const SAFE_USER = /^[A-Za-z0-9._~+*#!-]{1,32}$/;

interface Ringing {
  invite: SipMessage;
  peer: Peer;
  timer: NodeJS.Timeout;
}

export class Responder {
  private readonly ringing = new Map<string, Ringing>();
  private readonly calls = new Map<string, NodeJS.Timeout>();
  private byeSeq = 0;

  constructor(
    private settings: ResponderSettings,
    private readonly tokens: HoneypotTokens,
    private readonly listenerOf: (peer: Peer) => ListenerInfo | undefined,
    private readonly send: SendFn,
  ) {}

  reconfigure(settings: ResponderSettings): void {
    this.settings = settings;
  }

  /** Answers a request (never an ACK: see `ack`). `now` is Date.now(). */
  answer(req: SipMessage, peer: Peer, now: number): void {
    switch (req.method) {
      case 'OPTIONS':
        this.reply(req, peer, 200, 'OK', [
          `Allow: ${ALLOW}`,
          `Accept: ${ACCEPT}`,
          'Accept-Encoding: identity',
          'Accept-Language: en',
          `Supported: ${SUPPORTED}`,
        ]);
        return;
      case 'REGISTER':
        this.register(req, peer, now);
        return;
      case 'INVITE':
        this.invite(req, peer);
        return;
      case 'CANCEL':
        this.cancel(req, peer);
        return;
      case 'BYE':
        this.endCall(peer.address, req.callId);
        this.reply(req, peer, 200, 'OK', []);
        return;
      case 'SUBSCRIBE':
        this.reply(req, peer, 200, 'OK', [`Expires: ${grantedExpires(req.expires, 3600)}`, this.contact(req, peer)]);
        return;
      case 'NOTIFY':
      case 'MESSAGE':
      case 'INFO':
      case 'UPDATE':
      case 'PRACK':
        this.reply(req, peer, 200, 'OK', []);
        return;
      case 'REFER':
        this.reply(req, peer, 202, 'Accepted', [this.contact(req, peer)]);
        return;
      default:
        this.reply(req, peer, 501, 'Not Implemented', [`Allow: ${ALLOW}`]);
    }
  }

  /** An ACK with our To tag: the call is up; end it after `callDuration` if so configured. */
  ack(req: SipMessage, peer: Peer): void {
    const ms = this.settings.callDuration;
    const key = callKey(peer.address, req.callId);
    if (ms === 0 || this.calls.has(key) || this.calls.size >= MAX_CALLS) return;
    const bye = this.byeFor(req, peer);
    if (bye === undefined) return;
    const timer = setTimeout(() => {
      this.calls.delete(key);
      this.send(peer, bye);
    }, ms);
    timer.unref();
    this.calls.set(key, timer);
  }

  /** Stops every timer (sipwarden stops). */
  close(): void {
    for (const r of this.ringing.values()) clearTimeout(r.timer);
    for (const t of this.calls.values()) clearTimeout(t);
    this.ringing.clear();
    this.calls.clear();
  }

  get pending(): { ringing: number; calls: number } {
    return { ringing: this.ringing.size, calls: this.calls.size };
  }

  // ---- methods ---------------------------------------------------------------------------

  private register(req: SipMessage, peer: Peer, now: number): void {
    const nonce = credentialsNonce(req);
    if (nonce === undefined || !this.tokens.isNonce(peer.address, nonce, now)) {
      this.reply(req, peer, 401, 'Unauthorized', [
        `WWW-Authenticate: Digest algorithm=MD5, realm="${this.settings.realm}", nonce="${this.tokens.nonce(peer.address, now)}"`,
      ]);
      return;
    }
    const extra: string[] = [];
    const headerExpires = req.expires;
    for (const c of contactsOf(req)) {
      const expires = grantedExpires(c.expires ?? headerExpires, 3600);
      if (c.expires === 0 || (c.expires === undefined && headerExpires === 0)) continue;
      extra.push(`Contact: <${c.uri}>;expires=${expires}`);
    }
    extra.push(`Date: ${new Date(now).toUTCString()}`);
    this.reply(req, peer, 200, 'OK', extra);
  }

  private invite(req: SipMessage, peer: Peer): void {
    if (req.to.tag !== undefined) {
      // A re-INVITE (or a refresh): the same answer.
      this.answerInvite(req, peer);
      return;
    }
    const key = ringKey(peer.address, req);
    const ringing = this.ringing.get(key);
    this.reply(req, peer, 100, 'Trying', []);
    if (ringing !== undefined) {
      this.reply(req, peer, 180, 'Ringing', [this.contact(req, peer)]);
      return;
    }
    this.reply(req, peer, 180, 'Ringing', [this.contact(req, peer)]);
    if (this.ringing.size >= MAX_RINGING) {
      this.answerInvite(req, peer);
      return;
    }
    // Keep a copy: the transport may reuse the buffer the request was read into.
    let copy: SipMessage;
    try {
      copy = parseMessage(Buffer.from(req.raw));
    } catch (err) {
      if (!(err instanceof SipParseError)) throw err;
      this.answerInvite(req, peer);
      return;
    }
    const timer = setTimeout(() => {
      this.ringing.delete(key);
      this.answerInvite(copy, peer);
    }, RING_MS);
    timer.unref();
    this.ringing.set(key, { invite: copy, peer, timer });
  }

  private answerInvite(req: SipMessage, peer: Peer): void {
    const listener = this.listenerOf(peer);
    if (listener === undefined) return;
    const host = listener.sipHost.startsWith('[') ? listener.sipHost.slice(1, -1) : listener.sipHost;
    const offer = req.body.length > 0 ? req.body.toString('latin1') : undefined;
    const sdp = sdpAnswer(offer, {
      host,
      port: this.tokens.rtpPort(peer.address, req.callId),
      sessionId: this.tokens.sessionId(peer.address, req.callId),
      sessionName: this.settings.server === undefined ? 'session' : 'Asterisk',
    });
    this.reply(req, peer, 200, 'OK', [this.contact(req, peer), `Allow: ${ALLOW}`, `Supported: ${SUPPORTED}`], {
      type: 'application/sdp',
      text: sdp,
    });
  }

  private cancel(req: SipMessage, peer: Peer): void {
    this.reply(req, peer, 200, 'OK', []);
    const key = ringKey(peer.address, req);
    const ringing = this.ringing.get(key);
    if (ringing === undefined) return;
    clearTimeout(ringing.timer);
    this.ringing.delete(key);
    this.reply(ringing.invite, peer, 487, 'Request Terminated', []);
  }

  private endCall(address: string, callId: string): void {
    const key = callKey(address, callId);
    const t = this.calls.get(key);
    if (t !== undefined) {
      clearTimeout(t);
      this.calls.delete(key);
    }
  }

  // ---- building ----------------------------------------------------------------------------

  private reply(
    req: SipMessage,
    peer: Peer,
    status: number,
    reason: string,
    extra: string[],
    body?: { type: string; text: string },
  ): void {
    const server = this.settings.server;
    if (server !== undefined) extra.push(`Server: ${server}`);
    const tag = this.tokens.tag(peer.address, req.callId);
    this.send(peer, honeypotReply(req, status, reason, tag, extra, body));
  }

  /** Our Contact: the called user at the listener the request arrived on. */
  private contact(req: SipMessage, peer: Peer): string {
    const l = this.listenerOf(peer);
    const user = safeUser(req);
    const hostport = l === undefined ? 'invalid' : `${l.sipHost}:${l.sipPort}`;
    const transport = peer.transport === 'udp' ? '' : `;transport=${peer.transport}`;
    return `Contact: <sip:${user === undefined ? '' : `${user}@`}${hostport}${transport}>`;
  }

  /** The BYE that ends a call the ACK confirmed, sent to where the ACK came from. */
  private byeFor(ack: SipMessage, peer: Peer): Buffer | undefined {
    const l = this.listenerOf(peer);
    if (l === undefined) return undefined;
    let target: string;
    try {
      const c = ack.contact;
      target = c !== undefined && !c.star && c.addresses.length > 0 ? c.addresses[0]!.uriText : ack.from.uriText;
    } catch (err) {
      if (!(err instanceof SipParseError)) throw err;
      return undefined;
    }
    if (target.length > MAX_URI_CHARS || /[\s<>]/.test(target)) return undefined;
    const from = ack.headerValueAt(ack.toAt);
    const to = ack.headerValueAt(ack.fromAt);
    this.byeSeq = (this.byeSeq + 1) % 1_000_000;
    const lines = [
      `BYE ${target} SIP/2.0`,
      `Via: SIP/2.0/${peer.transport.toUpperCase()} ${l.sipHost}:${l.sipPort};branch=z9hG4bK${this.tokens.tag(peer.address, `${ack.callId}|bye`)}${this.byeSeq};rport`,
      'Max-Forwards: 70',
      `From: ${from}`,
      `To: ${to}`,
      `Call-ID: ${ack.callId}`,
      `CSeq: ${102} BYE`,
      ...(this.settings.server === undefined ? [] : [`User-Agent: ${this.settings.server}`]),
      'Content-Length: 0',
      '',
      '',
    ];
    return Buffer.from(lines.map((x) => x.replace(/[\r\n]+/g, ' ')).join('\r\n'), 'utf8');
  }
}

function callKey(address: string, callId: string): string {
  return `${address}\0${callId}`;
}

function ringKey(address: string, req: SipMessage): string {
  return `${address}\0${req.callId}\0${req.cseq.seq}`;
}

/** The granted expiry: the requested one (default `fallback`) within MIN_EXPIRES..MAX_EXPIRES. */
function grantedExpires(requested: number | undefined, fallback: number): number {
  const e = requested ?? fallback;
  return Math.max(MIN_EXPIRES, Math.min(MAX_EXPIRES, e));
}

/** The nonce of the request's digest credentials, if it carries any that decode. */
function credentialsNonce(req: SipMessage): string | undefined {
  try {
    const a = req.authorization;
    return a?.isDigest === true ? a.nonce : undefined;
  } catch (err) {
    if (!(err instanceof SipParseError)) throw err;
    return undefined;
  }
}

/** The Contact URIs of a REGISTER (at most MAX_CONTACTS, each bounded) with their expires. */
function contactsOf(req: SipMessage): Array<{ uri: string; expires: number | undefined }> {
  const out: Array<{ uri: string; expires: number | undefined }> = [];
  try {
    const c = req.contact;
    if (c === undefined || c.star) return out;
    for (const a of c.addresses) {
      if (out.length >= MAX_CONTACTS) break;
      if (a.uriText.length > MAX_URI_CHARS || /[\s<>]/.test(a.uriText)) continue;
      const e = a.params.get('expires');
      const n = e !== undefined && e !== null && /^\d{1,10}$/.test(e) ? Number(e) : undefined;
      out.push({ uri: a.uriText, expires: n });
    }
  } catch (err) {
    if (!(err instanceof SipParseError)) throw err;
  }
  return out;
}

/** The Request-URI user when it is a plain extension or number; undefined otherwise. */
function safeUser(req: SipMessage): string | undefined {
  try {
    const u = req.requestUri.user;
    return u !== undefined && SAFE_USER.test(u) ? u : undefined;
  } catch (err) {
    if (!(err instanceof SipParseError)) throw err;
    return undefined;
  }
}
