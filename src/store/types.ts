/**
 * Storage of bans behind one interface: in memory, in an embedded SQLite file (the default),
 * and later Redis for several nodes.
 */

/** One ban. Times are epoch milliseconds. */
export interface Ban {
  /** Canonical address (`192.0.2.7`, `2001:db8::1`) or network (`2001:db8:1:2::/64`). */
  readonly target: string;
  /** Guard (or `admin`) that created it. */
  readonly guard: string;
  /** Why; sipwarden's own words, never attacker text. */
  readonly reason: string;
  readonly created: number;
  readonly expires: number;
}

/** What changed in a store, including changes made by another process (the CLI on the same file). */
export type BanChange =
  | { readonly kind: 'added'; readonly ban: Ban; readonly external: boolean }
  | { readonly kind: 'removed'; readonly target: string; readonly external: boolean }
  | { readonly kind: 'expired'; readonly ban: Ban }
  | { readonly kind: 'flushed'; readonly count: number; readonly external: boolean };

export type BanChangeListener = (change: BanChange) => void;

export interface BanStore {
  /**
   * The active ban covering `address` (the address itself or a banned network containing
   * it), or undefined. Served from memory; cost independent of the number of bans. A ban
   * stops covering at `expires` exactly (`now >= expires` means expired).
   */
  find(address: string, now: number): Ban | undefined;
  /**
   * Adds or replaces the ban of `ban.target` (a later expiry wins). Durable once it returns:
   * a `kill -9` right after keeps it.
   */
  add(ban: Ban): void;
  /** Lifts the ban of exactly this target; false when there was none. */
  remove(target: string): boolean;
  /** Active bans, soonest expiry first. */
  list(now: number): Ban[];
  /** Lifts every ban; returns how many there were. */
  flush(): number;
  /** Number of active bans held. */
  readonly size: number;
  /**
   * Calls `listener` for every change, including expiries and changes made by other processes;
   * returns the function that unsubscribes. Any number of listeners, called in the order they
   * subscribed; one that throws is reported (the store's `onError`) and stops none of the others.
   */
  subscribe(listener: BanChangeListener): () => void;
  close(): void;
}
