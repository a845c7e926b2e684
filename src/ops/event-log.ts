import { isIP } from 'node:net';
import type { DecisionEvent, EventBus, ExternalBanEvent, HoneypotEvent, SipwardenEvent } from '../core/events.js';
import { banMessage, externalBanMessage } from '../log/ban-line.js';
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
/** "source entered the honeypot" log lines per second, all sources together. */
const HONEYPOT_LINES_PER_SECOND = 5;

/**
 * Writes security events to the log:
 * - every enforced ban as one `warn` line whose message is the fail2ban line
 *   (`Blocking traffic from <IP> guard=... rule=... for Ns`);
 * - what a guard in monitor mode would have done at `info`, at most `monitorPerSecond`
 *   lines a second (a monitored flood must not flood the log);
 * - a ban not made or narrowed because of `guards.never_ban` (an event with a `note`) at
 *   `info`, within the same budget: a spoofed flood in a trunk's name must not flood the log
 *   either; a narrowed ban is still a ban line;
 * - every other guard decision (drops and replies of enforcing guards) at `debug`;
 * - a ban another process added (the CLI) like a guard's ban: a single address gets the
 *   fail2ban line, a network a `ban-network` line;
 * - lifted, expired and flushed bans, upstream targets leaving and rejoining the rotation, and
 *   sources entering the honeypot (at most 5 lines a second) at `info` (a target down: `warn`).
 * Alerts are logged by whoever raises them (the watch's Reporter).
 * Attacker text only appears in the `detail` field, escaped and bounded.
 */
export function logEvents(events: EventBus, log: EventLogTarget, monitorPerSecond = 20): () => void {
  const logDecision = decisionLog(log, monitorPerSecond);
  const honeypotLines = new RateLimit(HONEYPOT_LINES_PER_SECOND);
  return events.subscribe((e: SipwardenEvent) => {
    switch (e.kind) {
      case 'block':
        return logDecision(e);
      case 'ban':
        return e.origin === 'guard' ? logDecision(e) : logExternalBan(log, e);
      case 'unban':
        return log.info({ event: 'unban', target: e.target, external: e.origin === 'external' }, 'ban lifted');
      case 'ban-expired':
        return log.info({ event: 'ban-expired', target: e.ban.target, guard: e.ban.guard }, 'ban expired');
      case 'bans-flushed':
        return log.info({ event: 'bans-flushed', count: e.count, external: e.origin === 'external' }, 'bans flushed');
      case 'upstream':
        if (e.state === 'up') {
          return log.info({ event: 'upstream-up', upstream: e.upstream, target: e.target }, 'upstream target is back');
        }
        return log.warn(
          { event: 'upstream-down', upstream: e.upstream, target: e.target, why: e.why },
          'upstream target taken out of rotation',
        );
      case 'honeypot':
        if (honeypotLines.take()) logHoneypotSource(log, e);
        return;
      default:
        return;
    }
  });
}

/** The log lines of guard decisions (see logEvents). */
function decisionLog(log: EventLogTarget, monitorPerSecond: number): (e: DecisionEvent) => void {
  const monitorLines = new RateLimit(monitorPerSecond);
  let suppressed = 0;
  return (e) => {
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
  };
}

/** A ban added by another process (`sipwarden bans add`): logged like a guard's ban. */
function logExternalBan(log: EventLogTarget, e: ExternalBanEvent): void {
  const ban = e.ban;
  const fields = {
    guard: ban.guard,
    rule: 'manual',
    target: ban.target,
    until: new Date(ban.expires).toISOString(),
    detail: sanitize(ban.reason, DETAIL_MAX),
    external: true,
  };
  // fail2ban bans hosts: only a single address gets the line its filter matches.
  if (isIP(ban.target) !== 0)
    log.warn({ event: 'ban', source: ban.target, ...fields }, externalBanMessage(ban, e.time));
  else log.warn({ event: 'ban-network', ...fields }, 'network banned');
}

function logHoneypotSource(log: EventLogTarget, e: HoneypotEvent): void {
  log.info(
    {
      event: 'honeypot-source',
      source: e.source.address,
      port: e.source.port,
      transport: e.source.transport,
      guard: e.guard === '' ? undefined : e.guard,
      rule: e.rule,
    },
    'source entered the honeypot',
  );
}
