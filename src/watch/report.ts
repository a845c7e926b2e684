import type { EventBus } from '../core/events.js';
import type { ReplySpec, Source } from '../core/verdict.js';
import type { BanPolicy } from '../guards/ban-policy.js';
import { BanRecorder } from '../guards/ban-recorder.js';
import { sanitize } from '../log/sanitize.js';
import type { BanStore } from '../store/types.js';

/** The subset of a pino logger the watch uses for alerts that block nothing. */
export interface AlertLogger {
  warn(obj: object, msg?: string): void;
}

export interface ReporterDeps {
  readonly events: EventBus;
  readonly store: BanStore | undefined;
  readonly log: AlertLogger;
  /** True for sources the acl guard admits without further checks: never banned or refused. */
  readonly isExempt: (source: Source) => boolean;
  /** What one source is and who is never banned (`sources`, `guards.never_ban`); changes on reload. */
  readonly policy: () => BanPolicy;
  readonly onStoreError?: (err: unknown) => void;
}

/** `403 Try later`: what the request that got its source banned is answered. */
export const TRY_LATER: ReplySpec = Object.freeze({ code: 403, reason: 'Try later' });
/** What a wrong password gets: a missing user gets it too, so usernames cannot be enumerated. */
export const FORBIDDEN: ReplySpec = Object.freeze({ code: 403, reason: 'Forbidden' });

/**
 * Carries out what the response-watching guards decide, as the guard chain does for the
 * others: a ban goes through the same BanRecorder (the BanPolicy: the source's prefix,
 * never_ban; the store) and becomes a `ban` event (whose log line is the fail2ban line, see
 * ops/event-log.ts), a refusal a `block` event with action `reply`. In monitor mode only the
 * event, marked `monitor`. Alerts that block nothing (a fraud warning, distributed guessing
 * without the lock) are `warn` log lines with `event: 'alert'`, and `alert` events.
 */
export class Reporter {
  private readonly recorder: BanRecorder;

  constructor(private readonly deps: ReporterDeps) {
    this.recorder = new BanRecorder(deps.events, deps.store, deps.policy, (err) => deps.onStoreError?.(err));
  }

  isExempt(source: Source): boolean {
    return this.deps.isExempt(source);
  }

  /** The key a source is counted by (its address masked to `sources.*`), as every guard counts it. */
  keyOf(address: string): string {
    return this.deps.policy().keyOf(address);
  }

  /**
   * Bans the source (unless monitoring); returns true when the guard's decision is enforced.
   * A source in `guards.never_ban` is not banned: with `answers` (the guard replaces the answer,
   * e.g. `403 Try later`) that is a `reply` event with a note, else an alert line.
   */
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
    answers = false,
  ): boolean {
    const o = this.recorder.record({
      time: now,
      source,
      guard,
      rule,
      detail,
      method: method === '' ? undefined : method,
      monitor,
      target: undefined,
      reason,
      duration,
      spared: answers ? 'reply' : undefined,
    });
    if (o.ban === undefined && !answers) {
      this.alert(guard, rule, 'ban not applied', {
        source: source.address,
        note: o.note,
        detail,
        monitor: monitor ? 'yes' : 'no',
      });
    }
    return !monitor;
  }

  /** Records that a request or answer was refused (or, monitoring, would have been). */
  refused(guard: string, monitor: boolean, source: Source, rule: string, detail: string, method: string, now: number) {
    this.deps.events.emit({
      kind: 'block',
      time: now,
      source: { transport: source.transport, address: source.address, port: source.port, family: source.family },
      guard,
      rule,
      action: 'reply',
      monitor,
      detail,
      ban: undefined,
      method: method === '' ? undefined : method,
      note: undefined,
    });
  }

  /** A warning that blocks nothing. `fields` values may hold attacker text: they are escaped here. */
  alert(guard: string, rule: string, message: string, fields: Record<string, string | number>): void {
    const safe: Record<string, string | number> = {};
    for (const [k, v] of Object.entries(fields)) safe[k] = typeof v === 'string' ? sanitize(v, 200) : v;
    this.deps.log.warn({ event: 'alert', guard, rule, ...safe }, message);
    this.deps.events.emit({ kind: 'alert', time: Date.now(), guard, rule, message, fields: safe });
  }
}
