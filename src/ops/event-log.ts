import type { EventStream } from '../guards/events.js';
import type { SecurityEvent } from '../guards/types.js';
import { banMessage } from '../log/ban-line.js';
import { sanitize } from '../log/sanitize.js';
import { RateLimit } from '../net/rate-limit.js';

export interface EventLogTarget {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  /** pino's level check: lets a flood of drop events cost nothing when debug is off. */
  isLevelEnabled?(level: string): boolean;
}

/** Longest attacker-influenced detail written to a log line. */
const DETAIL_MAX = 200;

/**
 * Writes security events to the log:
 * - every enforced ban as one `warn` line whose message is the fail2ban line
 *   (`Blocking traffic from <IP> guard=... rule=... for Ns`);
 * - what a guard in monitor mode would have done at `info`, at most `monitorPerSecond`
 *   lines a second (a monitored flood must not flood the log);
 * - a ban not made or narrowed because of `guards.never_ban` (an event with a `note`) at
 *   `info`, within the same budget: a spoofed flood in a trunk's name must not flood the log
 *   either; a narrowed ban is still a ban line;
 * - every other event (drops and replies of enforcing guards) at `debug`.
 * Attacker text only appears in the `detail` field, escaped and bounded.
 */
export function logEvents(events: EventStream, log: EventLogTarget, monitorPerSecond = 20): () => void {
  const monitorLines = new RateLimit(monitorPerSecond);
  let suppressed = 0;
  return events.on((e: SecurityEvent) => {
    const enforcedBan = e.action === 'ban' && !e.monitor;
    const spared = !enforcedBan && e.note !== undefined;
    if (!enforcedBan && !e.monitor && !spared && log.isLevelEnabled?.('debug') === false) return;
    const fields = {
      event: e.action === 'ban' && !e.monitor ? 'ban' : 'guard',
      source: e.source.address,
      port: e.source.port,
      transport: e.source.transport,
      guard: e.guard,
      rule: e.rule,
      action: e.action,
      monitor: e.monitor || undefined,
      method: e.method,
      target: e.ban?.target,
      until: e.ban === undefined ? undefined : new Date(e.ban.until).toISOString(),
      detail: e.detail === '' ? undefined : sanitize(e.detail, DETAIL_MAX),
      note: e.note,
    };
    if (e.action === 'ban' && !e.monitor) {
      log.warn(fields, banMessage(e));
    } else if (e.monitor || spared) {
      if (!monitorLines.take()) {
        suppressed++;
        return;
      }
      log.info(
        { ...fields, suppressed: suppressed || undefined },
        e.monitor ? 'monitor: would block' : 'blocked; not banned (guards.never_ban)',
      );
      suppressed = 0;
    } else {
      log.debug(fields, 'blocked');
    }
  });
}
