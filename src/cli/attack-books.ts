/**
 * Where `sipwarden attacks` finds the attack records: the records file, or a running
 * sipwarden's admin API. Both give the same `AttackRecord`s, so every command prints the same
 * for the same records.
 */
import { recordFromJson } from '../honeypot/export.js';
import type { AttackRecord } from '../honeypot/records.js';
import { SqliteAttackStore } from '../honeypot/records-sqlite.js';
import { AdminApiError, type AdminTarget } from './admin-client.js';
import { askInstance } from './instance.js';

export interface AttackBook {
  /** Every record, most recently seen first. */
  list(): Promise<AttackRecord[]>;
  get(address: string): Promise<AttackRecord | undefined>;
  close(): void;
}

/** The records file (never created here). */
export function fileAttackBook(path: string): AttackBook {
  const store = new SqliteAttackStore(path, { maxRecords: Number.MAX_SAFE_INTEGER, create: false });
  return {
    list: async () => store.list(),
    get: async (address) => store.get(address),
    close: () => store.close(),
  };
}

/** The records of the running sipwarden at `target` (none when it runs no honeypot). */
export function onlineAttackBook(target: AdminTarget): AttackBook {
  const records = (json: unknown): AttackRecord[] => {
    const list = Array.isArray(json) ? json.map(recordFromJson) : undefined;
    if (list === undefined || list.includes(undefined)) {
      throw new AdminApiError(`${target.url}: an answer that is not sipwarden's admin API`);
    }
    return list as AttackRecord[];
  };
  return {
    // The export holds every record (the list endpoint stops at a limit), in the store's order.
    list: async () => records((await askInstance(target, 'GET', '/api/attacks/export?format=json')).body),
    get: async (address) => {
      const answer = await askInstance(target, 'GET', `/api/attacks?limit=1&source=${encodeURIComponent(address)}`);
      return records((answer.body as { attacks?: unknown }).attacks)[0];
    },
    close: () => {},
  };
}
