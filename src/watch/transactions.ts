import type { Source } from '../guards/types.js';
import type { TransportName } from '../transport/types.js';

/** RFC 3261 timer F / timer B (64 * T1): a transaction without a final answer by then is over. */
export const TRANSACTION_TIMEOUT_MS = 32_000;

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
  /** User part of the Request-URI (the dialled number of an INVITE). */
  ruriUser = '';
  callId = '';
  /** Epoch ms the request was first forwarded. */
  created = 0;

  get hasCredentials(): boolean {
    return this.authUser !== '';
  }
}

/**
 * Forwarded requests from the outside by sipwarden's branch, until their final answer or
 * for 32 s. The table is capped: beyond `cap` the oldest transaction is forgotten (its
 * answer then goes out unwatched, as it would without the watch).
 */
export class TransactionTable {
  private readonly map = new Map<string, WatchedRequest>();

  constructor(
    readonly cap = 65_536,
    readonly timeout = TRANSACTION_TIMEOUT_MS,
  ) {}

  get size(): number {
    return this.map.size;
  }

  /** The entry for `branch`, or undefined when a new one must be filled in (`add`). */
  get(branch: string, now: number): WatchedRequest | undefined {
    const e = this.map.get(branch);
    if (e === undefined) return undefined;
    if (now - e.created >= this.timeout) {
      this.map.delete(branch);
      return undefined;
    }
    return e;
  }

  /** Adds an entry for `branch` (the caller fills it in); forgets expired and, when full, the oldest. */
  add(branch: string, now: number): WatchedRequest {
    this.expire(now);
    if (this.map.size >= this.cap) {
      const first = this.map.keys().next();
      if (first.done !== true) this.map.delete(first.value);
    }
    const e = new WatchedRequest();
    e.created = now;
    this.map.set(branch, e);
    return e;
  }

  /** Removes the entry (after its final answer). */
  delete(branch: string): void {
    this.map.delete(branch);
  }

  /** Entries are in creation order: drop the timed-out ones from the front (a bounded number per call). */
  private expire(now: number): void {
    let n = 0;
    for (const [k, e] of this.map) {
      if (n++ >= 32 || now - e.created < this.timeout) return;
      this.map.delete(k);
    }
  }
}
