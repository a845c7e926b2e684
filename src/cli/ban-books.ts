/**
 * Where `sipwarden bans` finds the bans: the ban database file, or a running sipwarden's admin
 * API. Both give the same `Ban` records, so every command prints the same for the same bans.
 */
import { sanitize } from '../log/sanitize.js';
import { cidrsOverlap, parseCidr } from '../net/cidr.js';
import { SqliteBanStore } from '../store/sqlite.js';
import type { Ban } from '../store/types.js';
import { AdminApiError, type AdminTarget } from './admin-client.js';
import { askInstance } from './instance.js';

export interface BanBook {
  /** Bans in force, soonest expiry first. */
  list(now: number): Promise<Ban[]>;
  /** Adds the ban (a longer one already there is kept); resolves with the ban held afterwards. */
  add(ban: Ban): Promise<Ban | undefined>;
  /** Lifts the ban of exactly this target; false when there was none. */
  remove(target: string): Promise<boolean>;
  /** The ban covering this address (itself or a network containing it). */
  covering(address: string, now: number): Promise<Ban | undefined>;
  /** Lifts every ban; resolves with how many there were. */
  flush(): Promise<number>;
  close(): void;
}

/** The ban database file (only `add` may create it). */
export function fileBanBook(path: string, maxBans: number, create: boolean): BanBook {
  const store = new SqliteBanStore(path, { maxBans, pollInterval: 0, busyTimeout: 5000, create });
  return {
    list: async (now) => store.list(now),
    add: async (ban) => {
      store.add(ban);
      return store.list(ban.created).find((b) => b.target === ban.target);
    },
    remove: async (target) => store.remove(target),
    covering: async (address, now) => store.find(address, now),
    flush: async () => store.flush(),
    close: () => store.close(),
  };
}

/** Largest `limit` of `GET /api/bans`. */
const ALL_BANS = 100_000;

/** The bans of the running sipwarden at `target`, through its admin API. */
export function onlineBanBook(target: AdminTarget): BanBook {
  const list = async () => {
    const answer = await askInstance(target, 'GET', `/api/bans?limit=${ALL_BANS}`);
    return banList(target, (answer.body as { bans?: unknown }).bans);
  };
  return {
    list,
    add: async (ban) => {
      const answer = await askInstance(target, 'POST', '/api/bans', {
        target: ban.target,
        duration: ban.expires - ban.created,
        reason: ban.reason,
      });
      refused(target, answer);
      return banFromJson(target, (answer.body as { ban?: unknown }).ban);
    },
    remove: async (banned) => {
      const answer = await askInstance(target, 'DELETE', `/api/bans/${encodeURIComponent(banned)}`);
      if (answer.status === 404) return false;
      refused(target, answer);
      return true;
    },
    covering: async (address) => {
      const wanted = parseCidr(address);
      return (await list()).find((b) => cidrsOverlap(parseCidr(b.target), wanted));
    },
    flush: async () => {
      const answer = await askInstance(target, 'POST', '/api/bans/flush', {});
      refused(target, answer);
      const count = (answer.body as { count?: unknown }).count;
      if (typeof count !== 'number') throw unexpected(target);
      return count;
    },
    close: () => {},
  };
}

/** Throws the instance's reason when it did not do what was asked (a 4xx answer). */
function refused(target: AdminTarget, answer: { status: number; body: unknown }): void {
  if (answer.status < 400) return;
  const error = (answer.body as { error?: unknown }).error;
  throw new AdminApiError(
    `${target.url}: ${sanitize(String(error ?? `answered ${answer.status}`), 200)}`,
    answer.status,
  );
}

function unexpected(target: AdminTarget): AdminApiError {
  return new AdminApiError(`${target.url}: an answer that is not sipwarden's admin API`);
}

function banList(target: AdminTarget, bans: unknown): Ban[] {
  if (!Array.isArray(bans)) throw unexpected(target);
  return bans.map((b) => banFromJson(target, b));
}

/** A ban of the admin API (`created`, `expires` in ISO 8601) as the store's record. */
function banFromJson(target: AdminTarget, json: unknown): Ban {
  const b = (json ?? {}) as Record<string, unknown>;
  const created = typeof b.created === 'string' ? Date.parse(b.created) : Number.NaN;
  const expires = typeof b.expires === 'string' ? Date.parse(b.expires) : Number.NaN;
  if (typeof b.target !== 'string' || typeof b.guard !== 'string' || typeof b.reason !== 'string') {
    throw unexpected(target);
  }
  if (!Number.isFinite(created) || !Number.isFinite(expires)) throw unexpected(target);
  let canonical: string;
  try {
    canonical = parseCidr(b.target).text;
  } catch {
    throw unexpected(target);
  }
  return { target: canonical, guard: b.guard, reason: b.reason, created, expires };
}
