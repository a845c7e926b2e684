/**
 * Attack records: what each source address tried while it was in the honeypot. One record
 * per address, every list bounded and every piece of attacker text sanitized and cut before
 * it is kept, so a record's size is bounded whatever the attacker sends.
 */
import { sanitize } from '../log/sanitize.js';

export interface AttackRecord {
  address: string;
  /** Epoch ms. */
  firstSeen: number;
  lastSeen: number;
  /** Requests taken by the honeypot. */
  requests: number;
  /** Distinct User-Agents (at most MAX_USER_AGENTS). */
  userAgents: string[];
  /** Requests by method (at most MAX_METHODS methods; others count as OTHER). */
  methods: Record<string, number>;
  /** Distinct usernames tried: digest username, From and To users. */
  usernames: string[];
  /** Distinct numbers dialled: INVITE Request-URI users. */
  numbers: string[];
  /** Distinct `guard/rule` that sent the source to the honeypot (`held` for a held source). */
  reasons: string[];
}

/** One request the honeypot took, as seen (raw attacker text: `note` cleans it). */
export interface Observation {
  address: string;
  time: number;
  method: string;
  userAgent: string | undefined;
  /** Digest username, From user, To user (any may be missing). */
  usernames: readonly (string | undefined)[];
  /** Request-URI user of an INVITE. */
  number: string | undefined;
  /** `guard/rule`. */
  reason: string;
}

export const MAX_USER_AGENTS = 10;
export const MAX_USERNAMES = 100;
export const MAX_NUMBERS = 100;
export const MAX_METHODS = 16;
export const MAX_REASONS = 10;
export const MAX_TEXT = 128;
const METHOD_RE = /^[A-Z]{1,16}$/;

/** The store of attack records: a memory map, or a SQLite file written in batches. */
export interface AttackStore {
  note(o: Observation): void;
  /** Writes what is pending (a no-op for the memory store). */
  flush(): void;
  /** Every record, most recently seen first. */
  list(): AttackRecord[];
  get(address: string): AttackRecord | undefined;
  close(): void;
}

export function emptyRecord(address: string, time: number): AttackRecord {
  return {
    address,
    firstSeen: time,
    lastSeen: time,
    requests: 0,
    userAgents: [],
    methods: {},
    usernames: [],
    numbers: [],
    reasons: [],
  };
}

function addDistinct(list: string[], raw: string | undefined, max: number): void {
  if (raw === undefined || raw === '' || list.length >= max) return;
  const v = sanitize(raw, MAX_TEXT);
  if (!list.includes(v)) list.push(v);
}

function addCount(methods: Record<string, number>, method: string, n: number): void {
  let m = METHOD_RE.test(method) ? method : 'OTHER';
  if (!(m in methods) && Object.keys(methods).length >= MAX_METHODS) m = 'OTHER';
  methods[m] = (methods[m] ?? 0) + n;
}

/** Adds one observation to a record (in place). */
export function observe(r: AttackRecord, o: Observation): void {
  if (o.time < r.firstSeen) r.firstSeen = o.time;
  if (o.time > r.lastSeen) r.lastSeen = o.time;
  r.requests++;
  addCount(r.methods, o.method, 1);
  addDistinct(r.userAgents, o.userAgent, MAX_USER_AGENTS);
  for (const u of o.usernames) addDistinct(r.usernames, u, MAX_USERNAMES);
  addDistinct(r.numbers, o.number, MAX_NUMBERS);
  addDistinct(r.reasons, o.reason, MAX_REASONS);
}

/** Merges `delta` into `into` (in place): both describe the same address. */
export function merge(into: AttackRecord, delta: AttackRecord): void {
  into.firstSeen = Math.min(into.firstSeen, delta.firstSeen);
  into.lastSeen = Math.max(into.lastSeen, delta.lastSeen);
  into.requests += delta.requests;
  for (const [m, n] of Object.entries(delta.methods)) addCount(into.methods, m, n);
  for (const u of delta.userAgents) addDistinct(into.userAgents, u, MAX_USER_AGENTS);
  for (const u of delta.usernames) addDistinct(into.usernames, u, MAX_USERNAMES);
  for (const u of delta.numbers) addDistinct(into.numbers, u, MAX_NUMBERS);
  for (const u of delta.reasons) addDistinct(into.reasons, u, MAX_REASONS);
}

/**
 * Records in memory (`store.type: memory`): at most `maxRecords`, the least recently seen
 * dropped first (a Map in touch order, so eviction is O(1)).
 */
export class MemoryAttackStore implements AttackStore {
  private readonly records = new Map<string, AttackRecord>();

  constructor(private readonly maxRecords: number) {}

  note(o: Observation): void {
    let r = this.records.get(o.address);
    if (r === undefined) {
      r = emptyRecord(o.address, o.time);
      if (this.records.size >= this.maxRecords) {
        const oldest = this.records.keys().next().value;
        if (oldest !== undefined) this.records.delete(oldest);
      }
    } else {
      this.records.delete(o.address);
    }
    this.records.set(o.address, r);
    observe(r, o);
  }

  flush(): void {}

  list(): AttackRecord[] {
    return [...this.records.values()].sort((a, b) => b.lastSeen - a.lastSeen).map(copyRecord);
  }

  get(address: string): AttackRecord | undefined {
    const r = this.records.get(address);
    return r === undefined ? undefined : copyRecord(r);
  }

  close(): void {}
}

export function copyRecord(r: AttackRecord): AttackRecord {
  return {
    ...r,
    userAgents: [...r.userAgents],
    methods: { ...r.methods },
    usernames: [...r.usernames],
    numbers: [...r.numbers],
    reasons: [...r.reasons],
  };
}
