import type { ReplySpec, Source } from '../guards/types.js';
import { SipParseError } from '../sip/errors.js';
import { H } from '../sip/header-names.js';
import type { SipMessage } from '../sip/message.js';
import type { MessageWriter } from '../sip/writer.js';
import { INVITE_TRANSACTION_TIMEOUT_MS, TransactionTable, type WatchedRequest } from './transactions.js';

/** Longest username, realm or URI user kept (attacker text: bounded before it is stored). */
export const MAX_NAME = 128;

/** A guard that acts on the answers to forwarded requests. */
export interface ResponseWatcher {
  readonly name: string;
  /**
   * A final answer (>= 200) to a watched request is going to the outside. Returns the
   * answer to send instead, or undefined to let it through. Never throws for bad input.
   */
  onFinalResponse(req: WatchedRequest, msg: SipMessage, now: number): ReplySpec | undefined;
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

  /** A request from the outside was forwarded upstream with sipwarden's `branch`. */
  request(msg: SipMessage, source: Source, branch: string): void {
    const list = this.watchers;
    if (list.length === 0) return;
    const method = msg.method;
    // ACK gets no answer; a CANCEL shares its INVITE's branch and must not replace its entry.
    if (method === 'ACK' || method === 'CANCEL') return;
    const now = this.clock();
    const table = method === 'INVITE' ? this.invites : this.table;
    try {
      for (let i = 0; i < list.length; i++) list[i]!.onRequest?.(msg, true, now, msg.callId);
      if (table.get(branch, now) !== undefined) return; // a retransmission
      fill(table.add(branch, now), msg, source);
    } catch (err) {
      // A header the watch reads was malformed: the request goes on unwatched.
      if (!(err instanceof SipParseError)) throw err;
      table.delete(branch);
    }
  }

  /** A request from the inside was forwarded (the callee's BYE ends a call too). */
  insideRequest(msg: SipMessage, outsideCallId: string = msg.callId): void {
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
    if (list.length === 0 || msg.status < 200) return;
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
    let answer: ReplySpec | undefined;
    for (let i = 0; i < list.length; i++) {
      const a = list[i]!.onFinalResponse(req, msg, now);
      answer ??= a;
    }
    if (answer !== undefined) rewriteAnswer(w, msg, answer);
  }
}

/** Fills a new entry from the request; throws SipParseError for a malformed header it reads. */
function fill(e: WatchedRequest, msg: SipMessage, source: Source): void {
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
  const creds = credentials(msg);
  if (creds !== undefined) {
    e.authUser = bounded(creds.username);
    e.authRealm = bounded(creds.realm);
  }
}

/** The digest credentials of a request (Authorization, else Proxy-Authorization), if any. */
export function credentials(msg: SipMessage): { username: string | undefined; realm: string | undefined } | undefined {
  if (msg.findHeaderId(H.Authorization) !== -1) {
    const a = msg.authorization;
    if (a?.isDigest === true && a.username !== undefined) return a;
  }
  if (msg.findHeaderId(H.ProxyAuthorization) !== -1) {
    const a = msg.proxyAuthorization;
    if (a?.isDigest === true && a.username !== undefined) return a;
  }
  return undefined;
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
