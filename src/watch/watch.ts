import type { ReplySpec, Source } from '../core/verdict.js';
import { parseAuthHeader } from '../sip/digest.js';
import { SipParseError } from '../sip/errors.js';
import { H } from '../sip/header-names.js';
import type { SipMessage } from '../sip/message.js';
import type { MessageWriter } from '../sip/writer.js';
import { DialogTable } from './dialogs.js';
import { INVITE_TRANSACTION_TIMEOUT_MS, TransactionTable, type WatchedRequest } from './transactions.js';

/** Longest username, realm or URI user kept (attacker text: bounded before it is stored). */
export const MAX_NAME = 128;
/** Most credentials kept per watched request (sanity admits at most one per realm anyway). */
const MAX_JUDGED = 8;
/** Requests that create a dialog (RFC 3261 12.1, RFC 6665 4.4.1, RFC 3515 2.4.4). */
const DIALOG_METHODS: ReadonlySet<string> = new Set(['INVITE', 'SUBSCRIBE', 'REFER']);

/** A guard that acts on the answers to forwarded requests. */
export interface ResponseWatcher {
  readonly name: string;
  /**
   * A final answer (>= 200) to a watched request is going to the outside. Returns the
   * answer to send instead, or undefined to let it through. Never throws for bad input.
   */
  onFinalResponse(req: WatchedRequest, msg: SipMessage, now: number): ReplySpec | undefined;
  /**
   * A watched request was not sent to the inside after all (sipwarden answered it 503 itself: no
   * upstream up). Not an answer of the PBX: nothing to judge, but what it started is over.
   */
  onNotSent?(req: WatchedRequest, now: number): void;
  /** Any request forwarded (from either side; BYE ends a call). */
  /** `callId`: the Call-ID as the outside knows it (topology hiding changes it on the inside). */
  onRequest?(msg: SipMessage, fromOutside: boolean, now: number, callId: string): void;
}

/**
 * The transaction watch: remembers the requests from the outside it forwards (by
 * sipwarden's own branch) and shows the final answers coming back from the inside to the
 * watchers (brute_force, dial_scan, fraud), which may replace an answer. The proxy stays
 * stateless for forwarding: losing an entry (timeout, cap) only means that answer goes out
 * unwatched.
 */
export class TransactionWatch {
  readonly table: TransactionTable;
  /** INVITEs, which may ring for minutes before their answer (timer C). */
  readonly invites: TransactionTable;
  private watchers: readonly ResponseWatcher[] = [];
  /** Dialogs established through sipwarden (the auth guard's in-dialog skip asks it). */
  readonly dialogs = new DialogTable();
  /** Fill `dialogs` (set by the guard builder when the auth guard skips in-dialog requests). */
  trackDialogs = false;

  constructor(
    cap?: number,
    private readonly clock: () => number = Date.now,
  ) {
    this.table = new TransactionTable(cap);
    this.invites = new TransactionTable(cap, INVITE_TRANSACTION_TIMEOUT_MS);
  }

  /** The guards to show answers to (the chain's, in order; set on every build). */
  setWatchers(list: readonly ResponseWatcher[]): void {
    this.watchers = list;
  }

  get active(): boolean {
    return this.watchers.length > 0;
  }

  /**
   * A request from the outside was forwarded upstream with sipwarden's `branch`. `verified`: the
   * header number of the credentials sipwarden verified itself (not the upstream's to judge), or -1.
   */
  request(msg: SipMessage, source: Source, branch: string, verified = -1): void {
    const list = this.watchers;
    if (list.length === 0 && !this.trackDialogs) return;
    const method = msg.method;
    // ACK gets no answer; a CANCEL shares its INVITE's branch and must not replace its entry.
    if (method === 'ACK' || method === 'CANCEL') return;
    const now = this.clock();
    const table = method === 'INVITE' ? this.invites : this.table;
    try {
      for (let i = 0; i < list.length; i++) list[i]!.onRequest?.(msg, true, now, msg.callId);
      // Only tracking dialogs: only the requests that open one need an entry.
      if (list.length === 0 && !opensDialog(msg)) return;
      if (table.get(branch, now) !== undefined) return; // a retransmission
      fill(table.add(branch, now), msg, source, verified);
    } catch (err) {
      // A header the watch reads was malformed: the request goes on unwatched.
      if (!(err instanceof SipParseError)) throw err;
      table.delete(branch);
    }
  }

  /** The request of `branch` from the outside, recorded by `request`, was not sent after all. */
  notSent(msg: SipMessage, branch: string): void {
    const list = this.watchers;
    if (list.length === 0 && !this.trackDialogs) return;
    const table = msg.method === 'INVITE' ? this.invites : this.table;
    const now = this.clock();
    const req = table.get(branch, now);
    if (req === undefined) return;
    table.delete(branch);
    for (let i = 0; i < list.length; i++) list[i]!.onNotSent?.(req, now);
  }

  /** A request from the inside was forwarded (the callee's BYE ends a call too). */
  insideRequest(msg: SipMessage, outsideCallId: string = msg.callId): void {
    if (this.trackDialogs && DIALOG_METHODS.has(msg.method)) this.insideDialog(msg, outsideCallId);
    const list = this.watchers;
    if (list.length === 0 || msg.method !== 'BYE') return;
    const now = this.clock();
    try {
      for (let i = 0; i < list.length; i++) list[i]!.onRequest?.(msg, false, now, outsideCallId);
    } catch (err) {
      if (!(err instanceof SipParseError)) throw err;
    }
  }

  /**
   * A response from the inside is going to the outside through `w` (its top Via already
   * removed). A watcher's replacement answer is written into `w`.
   */
  response(msg: SipMessage, branch: string, w: MessageWriter): void {
    const list = this.watchers;
    if ((list.length === 0 && !this.trackDialogs) || msg.status < 200) return;
    const now = this.clock();
    let method: string;
    try {
      method = msg.cseq.method;
    } catch (err) {
      if (!(err instanceof SipParseError)) throw err;
      return;
    }
    const table = method === 'INVITE' ? this.invites : this.table;
    const req = table.get(branch, now);
    // The 200 of a CANCEL carries its INVITE's branch: it is not the INVITE's answer.
    if (req === undefined || method !== req.method) return;
    table.delete(branch);
    if (req.opensDialog && msg.status < 300 && this.trackDialogs) this.dialogs.add(req.callId, toTagOf(msg), now);
    let answer: ReplySpec | undefined;
    for (let i = 0; i < list.length; i++) {
      const a = list[i]!.onFinalResponse(req, msg, now);
      answer ??= a;
    }
    if (answer !== undefined) rewriteAnswer(w, msg, answer);
  }

  /** A dialog-creating request from the inside: the phone's requests in it carry its From tag in their To. */
  private insideDialog(msg: SipMessage, outsideCallId: string): void {
    try {
      if (msg.to.tag !== undefined) return;
      const tag = msg.from.tag;
      if (tag !== undefined) this.dialogs.add(outsideCallId, tag, this.clock());
    } catch (err) {
      if (!(err instanceof SipParseError)) throw err;
    }
  }
}

function opensDialog(msg: SipMessage): boolean {
  return DIALOG_METHODS.has(msg.method) && msg.to.tag === undefined;
}

/** The To tag of an answer, or '' (a malformed To is no dialog). */
function toTagOf(msg: SipMessage): string {
  try {
    return msg.to.tag ?? '';
  } catch (err) {
    if (!(err instanceof SipParseError)) throw err;
    return '';
  }
}

/** Fills a new entry from the request; throws SipParseError for a malformed header it reads. */
function fill(e: WatchedRequest, msg: SipMessage, source: Source, verified: number): void {
  e.transport = source.transport;
  e.address = source.address;
  e.port = source.port;
  e.family = source.family;
  e.method = msg.method;
  e.callId = msg.callId;
  e.fromUser = bounded(msg.from.uri.user);
  e.toUser = bounded(msg.to.uri.user);
  e.fromTag = msg.from.tag ?? '';
  e.toTag = msg.to.tag ?? '';
  e.cseq = msg.cseq.seq;
  e.ruriUser = bounded(msg.requestUri.user);
  e.opensDialog = opensDialog(msg);
  if (msg.findHeaderId(H.Authorization) === -1 && msg.findHeaderId(H.ProxyAuthorization) === -1) return;
  const all = digestCredentials(msg);
  if (all.length === 0) return;
  e.authUser = bounded(all[0]!.username);
  e.authRealm = bounded(all[0]!.realm);
  // What the server behind judges: every Digest credentials but those sipwarden verified itself.
  const judged: string[] = [];
  for (const c of all) {
    if (c.at === verified) continue;
    if (judged.length >= 2 * MAX_JUDGED) break;
    judged.push(bounded(c.username), bounded(c.realm));
  }
  e.judged = judged;
}

/** One Digest credentials header: username, realm ('' when absent) and header number. */
export interface DigestCredentials {
  readonly username: string;
  readonly realm: string;
  readonly at: number;
}

/**
 * Every Digest credentials with a username in the request, in header order: every line of
 * Authorization and of Proxy-Authorization, as a registrar looks through them for its realm
 * (RFC 3261 22.4). Other schemes are not credentials a SIP server checks (RFC 3261 22.1 forbids
 * Basic) and are left out, so one cannot hide the Digest credentials behind it. Throws
 * SipParseError for a header that does not decode.
 */
export function digestCredentials(msg: SipMessage): DigestCredentials[] {
  const out: DigestCredentials[] = [];
  const n = msg.headerCount;
  for (let k = 0; k < n; k++) {
    const id = msg.headerIdAt(k);
    if (id !== H.Authorization && id !== H.ProxyAuthorization) continue;
    const a = parseAuthHeader(msg.headerValueAt(k), id === H.Authorization ? 'Authorization' : 'Proxy-Authorization');
    if (!a.isDigest || a.username === undefined) continue;
    out.push({ username: a.username, realm: a.realm ?? '', at: k });
  }
  return out;
}

/**
 * The Digest credentials a request is attributed to (per-user counts): the first Digest
 * credentials of any line of Authorization or Proxy-Authorization, or undefined. A decoy in
 * another scheme in front of them does not hide them; several Digest credentials are refused
 * by sanity (one realm twice, or more than one realm sipwarden does not check itself).
 */
export function credentials(msg: SipMessage): { username: string | undefined; realm: string | undefined } | undefined {
  if (msg.findHeaderId(H.Authorization) === -1 && msg.findHeaderId(H.ProxyAuthorization) === -1) return undefined;
  const n = msg.headerCount;
  for (let k = 0; k < n; k++) {
    const id = msg.headerIdAt(k);
    if (id !== H.Authorization && id !== H.ProxyAuthorization) continue;
    const a = parseAuthHeader(msg.headerValueAt(k), id === H.Authorization ? 'Authorization' : 'Proxy-Authorization');
    if (a.isDigest && a.username !== undefined) return a;
  }
  return undefined;
}

/**
 * The credentials a call is attributed to: those sipwarden's auth guard verified in this
 * request when it did (a Digest decoy for a realm nobody checks must not choose the user that
 * per-user limits count), else `credentials(msg)`.
 */
export function attributedCredentials(
  msg: SipMessage,
  /** Header number of the credentials sipwarden verified, or -1. */
  k: number,
): { username: string | undefined; realm: string | undefined } | undefined {
  if (k >= 0) {
    const id = msg.headerIdAt(k);
    const a = parseAuthHeader(msg.headerValueAt(k), id === H.Authorization ? 'Authorization' : 'Proxy-Authorization');
    if (a.isDigest && a.username !== undefined) return a;
  }
  return credentials(msg);
}

export function bounded(s: string | undefined): string {
  if (s === undefined) return '';
  return s.length > MAX_NAME ? s.slice(0, MAX_NAME) : s;
}

/**
 * Turns the upstream's answer in `w` into another status: the status line replaced, only
 * Via, From, To (with the upstream's tag, so the client's transaction matches), Call-ID and
 * CSeq kept, no body. The challenge headers of a 401/407 go away with the rest.
 */
export function rewriteAnswer(w: MessageWriter, msg: SipMessage, answer: ReplySpec): void {
  w.setStartLine(`SIP/2.0 ${answer.code} ${answer.reason}`);
  const n = msg.headerCount;
  for (let k = 0; k < n; k++) {
    const id = msg.headerIdAt(k);
    if (id === H.Via || id === H.From || id === H.To || id === H.CallId || id === H.CSeq) continue;
    if (id === H.ContentLength) continue; // rewritten by setBody
    w.remove(k);
  }
  for (const h of answer.headers ?? []) {
    const colon = h.indexOf(':');
    if (colon > 0) w.append(h.slice(0, colon).trim(), h.slice(colon + 1).trim());
  }
  w.setBody(Buffer.alloc(0));
}
