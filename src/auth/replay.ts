/**
 * nonce-count replay protection (RFC 7616 3.4, 5.5): per nonce, the highest nc accepted and a
 * window of the `WINDOW` nc values below it, each with a fingerprint of the request that used
 * it.
 *
 * - A higher nc is accepted (the window slides).
 * - A lower nc inside the window that was not used yet is accepted: UDP reorders.
 * - An nc already used is accepted only for the same request (same fingerprint: Call-ID,
 *   CSeq and top Via branch), which is what a UDP retransmission is. The same nc on another
 *   request is a replay. A byte-for-byte replay of a request cannot be told from its
 *   retransmission by a stateless proxy; the server behind it absorbs it as one.
 * - An nc below the window is refused.
 *
 * Memory is bounded: at most `maxNonces` entries, each dropped when its nonce expires. When the
 * table is full the entry inserted first is evicted, and every nonce made at or before the
 * evicted one's time and not in the table is from then on answered as stale (a new challenge
 * with stale=true: the client retries at once with a fresh nonce). So eviction costs honest
 * clients one round trip and never lets a replay through.
 */

/** nc values tracked below the highest one. */
export const WINDOW = 32;

export type NcResult = 'ok' | 'replay' | 'evicted';

interface Entry {
  expires: number;
  /** Time the nonce was made (its eviction watermark). */
  issued: number;
  highest: number;
  /** Bit d: nc (highest - d) was used. */
  seen: number;
  /** Fingerprint of the request that used nc, at index nc % WINDOW. */
  readonly prints: Float64Array;
}

export class NonceCountTable {
  private readonly entries = new Map<string, Entry>();
  /** Nonces made at or before this time and not in the table were evicted (or may have been). */
  private watermark = -1;
  /** Entries evicted to make room (for stats and tests). */
  evictions = 0;

  constructor(private readonly maxNonces: number) {}

  get size(): number {
    return this.entries.size;
  }

  /**
   * Records that `nc` of `nonce` was used by the request with fingerprint `print` (a number
   * from a keyed hash). `issued`/`expires`: when the nonce was made and stops being valid.
   */
  use(nonce: string, nc: number, print: number, issued: number, expires: number, now: number): NcResult {
    let e = this.entries.get(nonce);
    if (e === undefined) {
      if (issued <= this.watermark) return 'evicted';
      this.makeRoom(now);
      e = { expires, issued, highest: nc, seen: 1, prints: new Float64Array(WINDOW) };
      e.prints[nc % WINDOW] = print;
      this.entries.set(nonce, e);
      return 'ok';
    }
    if (nc > e.highest) {
      const shift = nc - e.highest;
      e.seen = shift >= WINDOW ? 1 : ((e.seen << shift) | 1) >>> 0;
      e.highest = nc;
      e.prints[nc % WINDOW] = print;
      return 'ok';
    }
    const d = e.highest - nc;
    if (d >= WINDOW) return 'replay';
    const bit = (1 << d) >>> 0;
    if ((e.seen & bit) !== 0) return e.prints[nc % WINDOW] === print ? 'ok' : 'replay';
    e.seen = (e.seen | bit) >>> 0;
    e.prints[nc % WINDOW] = print;
    return 'ok';
  }

  /** Drops expired entries from the front; evicts the oldest when still full. */
  private makeRoom(now: number): void {
    const entries = this.entries;
    // Entries are mostly in expiry order (inserted at first use); a few sweeps keep it cheap.
    let sweeps = 0;
    for (const [nonce, e] of entries) {
      if (e.expires > now || sweeps >= 64) break;
      entries.delete(nonce);
      sweeps++;
    }
    while (entries.size >= this.maxNonces) {
      const first = entries.entries().next().value as [string, Entry];
      entries.delete(first[0]);
      if (first[1].expires > now) {
        this.evictions++;
        if (first[1].issued > this.watermark) this.watermark = first[1].issued;
      }
    }
  }
}
