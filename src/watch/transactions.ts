import type { Source } from '../core/verdict.js';
import type { TransportName } from '../net/peer.js';

const NO_CREDENTIALS: readonly string[] = Object.freeze([]);

/** RFC 3261 timer F / timer B (64 * T1): a transaction without a final answer by then is over. */
export const TRANSACTION_TIMEOUT_MS = 32_000;
/**
 * An INVITE may ring for minutes before its answer: a proxy gives up after timer C, "greater
 * than 3 minutes" (RFC 3261 16.6 step 11 and 16.8).
 */
export const INVITE_TRANSACTION_TIMEOUT_MS = 200_000;

/**
 * What the answer to a forwarded request needs to know about it. One object per forwarded
 * transaction, filled once; `''` stands for "absent" so every field keeps one type.
 */
export class WatchedRequest implements Source {
  transport: TransportName = 'udp';
  address = '';
  port = 0;
  family: 4 | 6 = 4;
  method = '';
  /** Digest username and realm of Authorization / Proxy-Authorization ('' without credentials). */
  authUser = '';
  authRealm = '';
  fromUser = '';
  toUser = '';
  /** From and To tags ('' when absent): with the Call-ID, the dialog (RFC 3261 12). */
  fromTag = '';
  toTag = '';
  cseq = 0;
  /** User part of the Request-URI (the dialled number of an INVITE). */
  ruriUser = '';
  callId = '';
  /** Epoch ms the request was first forwarded. */
  created = 0;
  /**
   * Every Digest credentials of the request the server behind may judge (all but the one
   * sipwarden's own auth guard verified), as username, realm, username, realm... (bounded).
   */
  judged: readonly string[] = NO_CREDENTIALS;
  /** An INVITE, SUBSCRIBE or REFER without To tag: its 2xx establishes a dialog. */
  opensDialog = false;

  get hasCredentials(): boolean {
    return this.authUser !== '';
  }
}

/**
 * Forwarded requests from the outside by sipwarden's branch, until their final answer or
 * for at least 32 s. Two generations: the young one takes new entries; when it is 32 s old
 * or holds half the cap it becomes the old one and the previous old one is dropped whole
 * (O(1) per message, no scan). An entry dropped that way only means its answer goes out
 * unwatched, as it would without the watch.
 */
export class TransactionTable {
  private young = new Map<string, WatchedRequest>();
  private old = new Map<string, WatchedRequest>();
  private youngSince = Number.NEGATIVE_INFINITY;
  private readonly half: number;

  constructor(
    readonly cap = 65_536,
    readonly timeout = TRANSACTION_TIMEOUT_MS,
  ) {
    this.half = Math.max(1, cap >> 1);
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  /** The entry for `branch`, or undefined when a new one must be filled in (`add`). */
  get(branch: string, now: number): WatchedRequest | undefined {
    const e = this.young.get(branch) ?? this.old.get(branch);
    if (e === undefined) return undefined;
    if (now - e.created >= this.timeout) {
      this.delete(branch);
      return undefined;
    }
    return e;
  }

  /** Adds an entry for `branch` (the caller fills it in). */
  add(branch: string, now: number): WatchedRequest {
    if (this.young.size >= this.half || now - this.youngSince >= this.timeout) {
      this.old = this.young;
      this.young = new Map();
      this.youngSince = now;
    }
    const e = new WatchedRequest();
    e.created = now;
    this.young.set(branch, e);
    return e;
  }

  /** Removes the entry (after its final answer). */
  delete(branch: string): void {
    if (!this.young.delete(branch)) this.old.delete(branch);
  }
}
