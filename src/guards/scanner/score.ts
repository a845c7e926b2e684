/**
 * Per-source scores of the scanner guard's weak signals.
 *
 * Each source (its key: the address masked as `sources.*` says, an IPv6 /64 by default) has
 * a window that opens with its first points and lasts `window` ms; within it each signal
 * counts at most once, so a phone that repeats one weak signal on every message is never
 * banned for it alone. Windows end lazily, when the source is next seen: no timer per
 * source. The table holds at most `maxSources` sources; beyond it the source whose window
 * opened first is forgotten (a Map keeps insertion order, and a source whose window
 * restarts is moved to the end).
 */
export class ScoreEntry {
  constructor(
    /** When the window opened (ms). */
    public start: number,
    public score: number,
    /** Bits of the signals counted in this window. */
    public signals: number,
  ) {}
}

export class ScoreBoard {
  private readonly entries = new Map<string, ScoreEntry>();

  constructor(
    readonly window: number,
    readonly maxSources = 100_000,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /**
   * Adds `points[s]` for each signal bit `s` of `signals` not yet counted in the source's
   * current window, and returns the entry (its score and the signals counted).
   */
  add(address: string, signals: number, points: ArrayLike<number>, now: number): ScoreEntry {
    let entry = this.entries.get(address);
    if (entry !== undefined && now - entry.start >= this.window) {
      // The window is over: start a new one, at the end of the insertion order.
      this.entries.delete(address);
      entry = undefined;
    }
    if (entry === undefined) {
      if (this.entries.size >= this.maxSources) this.evictOldest();
      entry = new ScoreEntry(now, 0, 0);
      this.entries.set(address, entry);
    }
    const fresh = signals & ~entry.signals;
    if (fresh !== 0) {
      for (let s = 0; s < points.length; s++) if ((fresh & (1 << s)) !== 0) entry.score += points[s]!;
      entry.signals |= fresh;
    }
    return entry;
  }

  /** The source's current entry, or undefined (windows that ended count as none). */
  get(address: string, now: number): ScoreEntry | undefined {
    const entry = this.entries.get(address);
    return entry !== undefined && now - entry.start < this.window ? entry : undefined;
  }

  /** Forgets a source (after it was banned). */
  delete(address: string): void {
    this.entries.delete(address);
  }

  private evictOldest(): void {
    for (const key of this.entries.keys()) {
      this.entries.delete(key);
      return;
    }
  }
}
