/** Opens the honeypot and its attack records as the configuration says. */
import { dirname, join } from 'node:path';
import type { Config } from '../config/index.js';
import type { EventBus } from '../core/events.js';
import type { EventLogger } from '../log/types.js';
import { Honeypot, type HoneypotTransport } from './honeypot.js';
import { type AttackStore, MemoryAttackStore } from './records.js';
import { ATTACKS_FILE, SqliteAttackStore } from './records-sqlite.js';
import type { HoneypotSources } from './sources.js';

/** The attack records file: `attacks.db` next to the ban database. */
export function attacksFile(config: Readonly<Config>): string {
  return join(dirname(config.store.path), ATTACKS_FILE);
}

/** A memory store for `store.type: memory`, else the SQLite file. Throws an Error naming the file. */
export function openAttackStore(config: Readonly<Config>, onError: (err: Error) => void): AttackStore {
  const max = config.honeypot.maxRecords;
  if (config.store.type === 'memory') return new MemoryAttackStore(max);
  return new SqliteAttackStore(attacksFile(config), { maxRecords: max, onError });
}

/** `sources`: the guards' ban policy (what one source is, who is never held). */
export function openHoneypot(
  config: Readonly<Config>,
  transport: HoneypotTransport,
  log: EventLogger,
  sources: HoneypotSources,
  events?: EventBus,
): Honeypot {
  const records = openAttackStore(config, (err) => log.warn({ event: 'attack-records-error' }, err.message));
  return new Honeypot(config.honeypot, config.guards.repliesPerSecond, transport, records, log, sources, events);
}
