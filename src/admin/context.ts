/**
 * What the admin API reads from and does to the running sipwarden. `src/server.ts` (the wiring)
 * fills it in; the admin code never reaches into the proxy or the sockets itself.
 */
import type { EventBus } from '../core/events.js';
import type { Registry } from '../core/metrics.js';
import type { AttackRecord } from '../honeypot/records.js';
import type { EventLogger } from '../log/types.js';
import type { BanStore } from '../store/types.js';

export interface ListenerInfo {
  readonly url: string;
  readonly transport: string;
  readonly address: string;
  readonly port: number;
}

export interface UpstreamTargetInfo extends ListenerInfo {
  readonly up: boolean;
  /** Unanswered pings in a row. */
  readonly failures: number;
  /** The last ping's answer: when, how long it took, its status code (`timeout` when none came). */
  readonly lastPing: { readonly at: number; readonly rttMs: number | null; readonly status: number | 'timeout' } | null;
}

export interface UpstreamInfo {
  readonly name: string;
  readonly targets: readonly UpstreamTargetInfo[];
}

/** The proxy's running totals, sampled once a second for `/api/series`. */
export interface TrafficTotals {
  /** Requests and responses received (keep-alives not counted). */
  readonly messages: number;
  /** Messages a guard stopped, by guard. */
  readonly blocked: ReadonlyMap<string, number>;
}

export interface AdminContext {
  readonly version: string;
  /** Epoch ms. */
  readonly startedAt: number;
  /** The configuration file, when sipwarden was started with one. */
  readonly configFile: string | undefined;
  /** When the configuration in force was loaded (epoch ms). */
  configLoadedAt(): number;
  listeners(): ListenerInfo[];
  /** `Server.stats()`. */
  stats(): Record<string, unknown>;
  upstreams(): UpstreamInfo[];
  traffic(): TrafficTotals;
  /** The flood table's busiest sources now (undefined: the flood guard is not in the chain). */
  flood(limit: number, now: number): { window: number; sources: { source: string; messages: number }[] } | undefined;
  /** The honeypot's attack records (undefined: no honeypot). */
  attacks(): AttackRecord[] | undefined;
  /** Rereads the configuration and applies it, as SIGHUP does; rejects with the reason it was not applied. */
  reload(): Promise<void>;
  readonly bans: BanStore;
  readonly events: EventBus;
  readonly metrics: Registry;
  readonly log: EventLogger;
}
