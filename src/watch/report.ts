import type { EventStream } from '../guards/events.js';
import type { ReplySpec, Source } from '../guards/types.js';
import { sanitize } from '../log/sanitize.js';
import { normalizeIp } from '../net/cidr.js';
import type { BanStore } from '../store/types.js';

/** The subset of a pino logger the watch uses for alerts that block nothing. */
export interface AlertLogger {
  warn(obj: object, msg?: string): void;
}

export interface ReporterDeps {
  readonly events: EventStream;
  readonly store: BanStore | undefined;
  readonly log: AlertLogger;
  /** True for sources the acl guard admits without further checks: never banned or refused. */
  readonly isExempt: (source: Source) => boolean;
  readonly onStoreError?: (err: unknown) => void;
}

/** `403 Try later`: what the request that got its source banned is answered. */
export const TRY_LATER: ReplySpec = Object.freeze({ code: 403, reason: 'Try later' });
/** What a wrong password gets: a missing user gets it too, so usernames cannot be enumerated. */
export const FORBIDDEN: ReplySpec = Object.freeze({ code: 403, reason: 'Forbidden' });

/**
 * Carries out what the response-watching guards decide, as the guard chain does for the
 * others: a ban goes to the store and becomes a `ban` event (whose log line is the fail2ban
 * line, see ops/event-log.ts), a refusal a `reply` event. In monitor mode only the event,
 * marked `monitor`. Alerts that block nothing (a fraud warning, distributed guessing without
 * the lock) are `warn` log lines with `event: 'alert'`.
 */
export class Reporter {
  constructor(private readonly deps: ReporterDeps) {}

  isExempt(source: Source): boolean {
    return this.deps.isExempt(source);
  }

  /** Bans the source (unless monitoring); returns true when the ban is enforced. */
  ban(
    guard: string,
    monitor: boolean,
    source: Source,
    rule: string,
    reason: string,
    detail: string,
    duration: number,
    method: string,
    now: number,
  ): boolean {
    const target = normalizeIp(source.address);
    const until = now + duration;
    if (!monitor && this.deps.store !== undefined) {
      try {
        this.deps.store.add({ target, guard, reason, created: now, expires: until });
      } catch (err) {
        // The store still enforces the ban from memory; only writing it down failed.
        this.deps.onStoreError?.(err);
      }
    }
    this.emit(guard, 'ban', monitor, source, rule, detail, method, now, { target, until, reason });
    return !monitor;
  }

  /** Records that a request or answer was refused (or, monitoring, would have been). */
  refused(guard: string, monitor: boolean, source: Source, rule: string, detail: string, method: string, now: number) {
    this.emit(guard, 'reply', monitor, source, rule, detail, method, now, undefined);
  }

  /** A warning that blocks nothing. `fields` values may hold attacker text: they are escaped here. */
  alert(guard: string, rule: string, message: string, fields: Record<string, string | number>): void {
    const safe: Record<string, string | number> = {};
    for (const [k, v] of Object.entries(fields)) safe[k] = typeof v === 'string' ? sanitize(v, 200) : v;
    this.deps.log.warn({ event: 'alert', guard, rule, ...safe }, message);
  }

  private emit(
    guard: string,
    action: 'ban' | 'reply',
    monitor: boolean,
    source: Source,
    rule: string,
    detail: string,
    method: string,
    now: number,
    ban: { target: string; until: number; reason: string } | undefined,
  ): void {
    this.deps.events.emit({
      time: now,
      source: { transport: source.transport, address: source.address, port: source.port, family: source.family },
      guard,
      rule,
      action,
      monitor,
      detail,
      ban,
      method: method === '' ? undefined : method,
    });
  }
}
