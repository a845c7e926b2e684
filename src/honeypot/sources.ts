/**
 * What the honeypot knows about each source address, in one bounded table: how long it is
 * held (every message of a held source goes to the honeypot, so the follow-up requests of
 * a dialog that no longer trip a guard still get consistent answers), its answer budget
 * (token bucket) and, over UDP, the bytes received and sent that bound reflection.
 *
 * The table holds at most `maxSources` entries; the entry touched longest ago goes first
 * (a Map keeps insertion order and a touch re-inserts). Forgetting a source only makes the
 * honeypot stricter with it: an unknown UDP source has received nothing, so it gets nothing.
 */

export class SourceEntry {
  /** Until when (epoch ms) the source's messages go to the honeypot. */
  heldUntil = 0;
  tokens: number;
  refilled: number;
  /** Bytes received from / sent to the address over UDP. */
  received = 0;
  sent = 0;
  /** The address proved it receives our answers (echoed our To tag or nonce), or spoke TCP/TLS. */
  verified = false;

  constructor(tokens: number, now: number) {
    this.tokens = tokens;
    this.refilled = now;
  }
}

export class SourceTable {
  private readonly entries = new Map<string, SourceEntry>();

  constructor(
    private readonly maxSources: number,
    private rate: number,
    private readonly holdMs: number,
  ) {}

  setRate(rate: number): void {
    this.rate = rate;
  }

  get size(): number {
    return this.entries.size;
  }

  get(address: string): SourceEntry | undefined {
    return this.entries.get(address);
  }

  /** The entry of `address`, created when missing (`created` tells), moved to the young end. */
  touch(address: string, now: number): { entry: SourceEntry; created: boolean } {
    let entry = this.entries.get(address);
    const created = entry === undefined;
    if (entry === undefined) {
      entry = new SourceEntry(this.rate, now);
      if (this.entries.size >= this.maxSources) {
        const oldest = this.entries.keys().next().value;
        if (oldest !== undefined) this.entries.delete(oldest);
      }
    } else {
      this.entries.delete(address);
    }
    this.entries.set(address, entry);
    return { entry, created };
  }

  /** Holds the source for the hold time from now. */
  hold(entry: SourceEntry, now: number): void {
    entry.heldUntil = now + this.holdMs;
  }

  /** True while the source's messages go to the honeypot. */
  holds(address: string, now: number): boolean {
    const e = this.entries.get(address);
    return e !== undefined && e.heldUntil > now;
  }

  /** Takes one answer from the source's bucket (`rate` per second, burst `rate`). */
  take(entry: SourceEntry, now: number): boolean {
    const rate = this.rate;
    entry.tokens = Math.min(rate, entry.tokens + ((now - entry.refilled) * rate) / 1000);
    entry.refilled = now;
    if (entry.tokens < 1) return false;
    entry.tokens -= 1;
    return true;
  }
}

/**
 * The reflection bound: over UDP an unverified address is sent at most `factor` times the
 * bytes it sent. `send` is called per datagram and says whether it may go out.
 */
export function mayReflect(entry: SourceEntry | undefined, udp: boolean, bytes: number, factor: number): boolean {
  if (!udp) return true;
  if (entry === undefined) return false;
  if (!entry.verified && entry.sent + bytes > factor * entry.received) return false;
  entry.sent += bytes;
  return true;
}
