/** Attack records as JSON and CSV (for `sipwarden attacks export`). */
import { isIP } from 'node:net';
import type { AttackRecord } from './records.js';

export function recordJson(r: AttackRecord): Record<string, unknown> {
  return {
    address: r.address,
    firstSeen: new Date(r.firstSeen).toISOString(),
    lastSeen: new Date(r.lastSeen).toISOString(),
    requests: r.requests,
    methods: r.methods,
    userAgents: r.userAgents,
    usernames: r.usernames,
    numbers: r.numbers,
    reasons: r.reasons,
  };
}

/** A record as `recordJson` wrote it, back; undefined when it is not one. */
export function recordFromJson(json: unknown): AttackRecord | undefined {
  const r = (json ?? {}) as Record<string, unknown>;
  const firstSeen = typeof r.firstSeen === 'string' ? Date.parse(r.firstSeen) : Number.NaN;
  const lastSeen = typeof r.lastSeen === 'string' ? Date.parse(r.lastSeen) : Number.NaN;
  const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');
  const methods = r.methods;
  if (
    typeof r.address !== 'string' ||
    isIP(r.address) === 0 ||
    !Number.isFinite(firstSeen) ||
    !Number.isFinite(lastSeen) ||
    typeof r.requests !== 'number' ||
    typeof methods !== 'object' ||
    methods === null ||
    !Object.values(methods).every((n) => typeof n === 'number') ||
    !strings(r.userAgents) ||
    !strings(r.usernames) ||
    !strings(r.numbers) ||
    !strings(r.reasons)
  ) {
    return undefined;
  }
  return {
    address: r.address,
    firstSeen,
    lastSeen,
    requests: r.requests,
    methods: methods as Record<string, number>,
    userAgents: r.userAgents,
    usernames: r.usernames,
    numbers: r.numbers,
    reasons: r.reasons,
  };
}

export function recordsJson(records: readonly AttackRecord[]): string {
  return JSON.stringify(records.map(recordJson), null, 2);
}

export const CSV_COLUMNS = [
  'address',
  'first_seen',
  'last_seen',
  'requests',
  'methods',
  'user_agents',
  'usernames',
  'numbers',
  'reasons',
] as const;

/**
 * One CSV cell (RFC 4180): quoted when it holds a quote, comma, semicolon, line break or
 * leading/trailing space, quotes doubled. A cell a spreadsheet would read as a formula
 * (starting with = + - @, or a tab or carriage return) gets a leading `'`.
 */
export function csvCell(value: string): string {
  let v = value;
  if (/^[=+\-@\t\r]/.test(v)) v = `'${v}`;
  if (/[",;\r\n]|^\s|\s$/.test(v)) v = `"${v.replaceAll('"', '""')}"`;
  return v;
}

/** Lists inside a cell are joined with " | ". */
function list(values: readonly string[]): string {
  return values.join(' | ');
}

export function recordsCsv(records: readonly AttackRecord[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of records) {
    const methods = Object.entries(r.methods)
      .map(([m, n]) => `${m}:${n}`)
      .join(' ');
    const cells = [
      r.address,
      new Date(r.firstSeen).toISOString(),
      new Date(r.lastSeen).toISOString(),
      String(r.requests),
      methods,
      list(r.userAgents),
      list(r.usernames),
      list(r.numbers),
      list(r.reasons),
    ];
    lines.push(cells.map(csvCell).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}
