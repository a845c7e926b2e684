import { isIP } from 'node:net';
import type { SecurityEvent } from '../guards/types.js';

const NAME = /^[a-z0-9-]{1,32}$/;

/**
 * The text of a ban's log line, which fail2ban's filter matches:
 * `Blocking traffic from 192.0.2.7 guard=flood rule=density for 300s`.
 * Built from sipwarden's own fields only (an address checked by isIP, guard and rule names of
 * a fixed alphabet), so no attacker text can reach it.
 */
export function banMessage(event: SecurityEvent): string {
  const address = isIP(event.source.address) !== 0 ? event.source.address : 'invalid';
  const guard = NAME.test(event.guard) ? event.guard : 'unknown';
  const rule = NAME.test(event.rule) ? event.rule : 'unknown';
  const seconds = event.ban === undefined ? 0 : Math.max(0, Math.round((event.ban.until - event.time) / 1000));
  return `Blocking traffic from ${address} guard=${guard} rule=${rule} for ${seconds}s`;
}
