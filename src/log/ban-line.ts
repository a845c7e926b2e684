/**
 * The `msg` text of a ban's log line, the one line fail2ban's sipwarden filter
 * (deploy/fail2ban/filter.d/sipwarden.conf) acts on:
 *
 * ```text
 * Blocking traffic from 192.0.2.7 guard=flood rule=density for 300s
 * ```
 *
 * It is built from sipwarden's own fields only, each checked: the source address must be an
 * IP address (fail2ban bans hosts, so for a network ban it is the source address, and the
 * network is in the line's `target` field), the guard and rule names must be short lower-case
 * words, the duration is whole seconds. Attacker text never enters it, so nothing an attacker
 * sends can produce a matching `msg`. Events that ban nobody (monitor mode, other actions)
 * get a text the filter does not match.
 */
import { isIP } from 'node:net';
import type { SecurityEvent } from '../core/events.js';
import { normalizeIp } from '../net/ip.js';

const NAME = /^[a-z0-9-]{1,40}$/;

function name(value: string): string {
  return typeof value === 'string' && NAME.test(value) ? value : 'invalid';
}

/** The source address as fail2ban must see it (IPv4-mapped IPv6 as IPv4), or undefined. */
function address(value: string | undefined): string | undefined {
  if (typeof value !== 'string') return undefined;
  let ip: string;
  try {
    ip = normalizeIp(value);
  } catch {
    return undefined;
  }
  return isIP(ip) === 0 ? undefined : ip;
}

/** The `msg` of a ban event's log line (see the module comment). Never throws. */
export function banMessage(event: SecurityEvent): string {
  const guard = name(event.guard);
  const rule = name(event.rule);
  const ban = event.action === 'ban' ? event.ban : undefined;
  if (!ban) return `No ban (action ${name(event.action)}) guard=${guard} rule=${rule}`;
  return banText(event.source?.address, guard, rule, duration(ban.until, event.time), event.monitor);
}

/**
 * The `msg` of the log line of a ban another process added to the store (`sipwarden bans add`):
 * the banned address is the source fail2ban sees. `now`: when the ban was seen. Never throws.
 */
export function externalBanMessage(ban: { target: string; guard: string; expires: number }, now: number): string {
  return banText(ban.target, name(ban.guard), 'manual', duration(ban.expires, now), false);
}

function duration(until: number, time: number): string {
  const seconds = Math.max(0, Math.ceil((until - time) / 1000));
  return Number.isFinite(seconds) ? `${seconds}s` : 'unknown';
}

function banText(source: string | undefined, guard: string, rule: string, duration: string, monitor: boolean): string {
  const ip = address(source);
  if (ip === undefined) return `Ban of an unreadable source address guard=${guard} rule=${rule} for ${duration}`;
  if (monitor) return `Would block traffic from ${ip} guard=${guard} rule=${rule} for ${duration} (monitor)`;
  return `Blocking traffic from ${ip} guard=${guard} rule=${rule} for ${duration}`;
}
