/**
 * What the honeypot knows about each source, in bounded tables:
 * - per source (the address masked as `sources.*` says, an IPv6 /64 by default, as every
 *   guard counts): how long it is held (every message of a held source goes to the
 *   honeypot, so the follow-up requests of a dialog that no longer trip a guard still get
 *   consistent answers, and another address of the same /64 gets them too);
 * - per address: its answer budget (token bucket) and, over UDP, the bytes received and
 *   sent that bound reflection. These stay per address: a reflection's victim is one
 *   address, and proof that an address receives our answers says nothing of its neighbours.
 *
 * Each table holds at most `maxSources` entries; the entry touched longest ago goes first
 * (a Map keeps insertion order and a touch re-inserts). Forgetting a source only makes the
 * honeypot stricter with it: an unknown UDP source has received nothing, so it gets nothing.
 */

/** What the honeypot asks about sources: the guards' ban policy answers. */
export interface HoneypotSources {
  /** The key of the source `address` belongs to (its prefix). */
  keyOf(address: string): string;
  /** True for a peer in `guards.never_ban`: it is never held (its messages are judged one by one). */
  spares(address: string): boolean;
}

export class SourceEntry {
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
  /** Held sources (by key): until when (epoch ms) their messages go to the honeypot. */
  private readonly held = new Map<string, number>();

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

  /** Holds the source `key` for the hold time from now. */
  hold(key: string, now: number): void {
    this.held.delete(key);
    if (this.held.size >= this.maxSources) {
      const oldest = this.held.keys().next().value;
      if (oldest !== undefined) this.held.delete(oldest);
    }
    this.held.set(key, now + this.holdMs);
  }

  /** Sources held, or whose hold ended and was not looked up since (0: nothing to look up). */
  get heldSources(): number {
    return this.held.size;
  }

  /** True while the messages of source `key` go to the honeypot. */
  holds(key: string, now: number): boolean {
    const until = this.held.get(key);
    if (until === undefined) return false;
    if (until > now) return true;
    this.held.delete(key); // over: forgotten, so that an idle table costs nothing again
    return false;
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
