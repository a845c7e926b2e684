/**
 * Ban store micro benchmark.
 *
 *   npx tsc -p . && node dist/bench/bans/run.js [--bans N] [--lookups N] [--rounds N]
 *
 * - `find` in ns/op, for addresses that are banned (hit) and that are not (miss), with N bans
 *   held (default 100000), against a plain `Map.get` on the same number of string keys in the
 *   same run (the floor of any lookup by address text). Median of the rounds.
 * - Minor GCs during the timed misses: 0 means the miss path allocates nothing.
 * - Memory per ban held (heap after GC), and what the ban objects alone take.
 * - SQLite: a durable `add` (one committed transaction) and opening a file with N bans.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants, PerformanceObserver, performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Source } from '../../src/core/verdict.js';
import { BansGuard } from '../../src/guards/bans/bans.js';
import { normalizeCidr } from '../../src/net/cidr.js';
import { classifyIp, formatIPv4 } from '../../src/net/ip.js';
import { flatten } from '../../src/store/indexed-store.js';
import { MemoryBanStore } from '../../src/store/memory.js';
import { SqliteBanStore } from '../../src/store/sqlite.js';
import type { Ban } from '../../src/store/types.js';
import { table } from '../common/table.js';

const { values } = parseArgs({
  options: {
    bans: { type: 'string', default: '100000' },
    lookups: { type: 'string', default: '2000000' },
    rounds: { type: 'string', default: '7' },
  },
});
const BANS = Number(values.bans);
const LOOKUPS = Number(values.lookups);
const ROUNDS = Number(values.rounds);
if (![BANS, LOOKUPS, ROUNDS].every((n) => Number.isInteger(n) && n > 0)) {
  process.stderr.write('usage: node dist/bench/bans/run.js [--bans N] [--lookups N] [--rounds N]\n');
  process.exit(2);
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

// --- data ---

let seed = 12345;
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return (t ^ (t >>> 14)) >>> 0;
}
const hex = (n: number) => (n & 0xffff).toString(16);

function ban(target: string, now: number): Ban {
  return { target, guard: 'flood', reason: 'flood: 17 messages in 2s', created: now, expires: now + 3_600_000 };
}

/**
 * A flat copy of `s`, as Node hands a datagram's source address to JavaScript. Strings built by
 * concatenation are ropes, slower to read character by character than a real address would be.
 */
function flat(s: string): string {
  return Buffer.from(s, 'latin1').toString('latin1');
}

interface Scenario {
  name: string;
  targets: string[];
  hits: string[];
  misses: string[];
}

const SAMPLE = 4096;

/** Distinct IPv4 addresses in 100.64.0.0/10; misses come from 198.18.0.0/15. */
function v4Scenario(): Scenario {
  const set = new Set<string>();
  while (set.size < BANS) set.add(formatIPv4((0x64400000 + (random() & 0x3fffff)) >>> 0));
  const targets = [...set];
  const hits = Array.from({ length: SAMPLE }, () => flat(targets[random() % targets.length]!));
  const misses = Array.from({ length: SAMPLE }, () => flat(v4Miss()));
  return { name: `IPv4, ${BANS} /32 bans`, targets, hits, misses };
}

/** A random IPv6 /64 in 2001:db8::/32: the ban target and an address inside it. */
function v6Net(): { target: string; inside: () => string } {
  const w2 = hex(random());
  const w3 = hex(random());
  return {
    target: normalizeCidr(`2001:db8:${w2}:${w3}::/64`),
    inside: () => `2001:db8:${w2}:${w3}:${hex(random())}:${hex(random())}:${hex(random())}:${hex(random())}`,
  };
}

const v6Miss = () =>
  `2001:db9:${hex(random())}:${hex(random())}:${hex(random())}:${hex(random())}:${hex(random())}:${hex(random())}`;
const v4Miss = () => formatIPv4((0xc6120000 + (random() & 0x1ffff)) >>> 0);

/** IPv6 /64 bans; a hit is an address inside one, a miss one in 2001:db9::/32. */
function v6Scenario(): Scenario {
  const nets = new Map<string, () => string>();
  while (nets.size < BANS) {
    const n = v6Net();
    nets.set(n.target, n.inside);
  }
  const targets = [...nets.keys()];
  const insides = [...nets.values()];
  const hits = Array.from({ length: SAMPLE }, () => flat(insides[random() % insides.length]!()));
  const misses = Array.from({ length: SAMPLE }, () => flat(v6Miss()));
  return { name: `IPv6, ${BANS} /64 bans`, targets, hits, misses };
}

/** 90 % IPv4 addresses, 5 % IPv4 /24s, 4 % IPv6 /64s, 1 % IPv6 /128s: 2 prefix lengths per family. */
function mixedScenario(): Scenario {
  const hitMakers = new Map<string, () => string>();
  const v4 = v4Scenario().targets;
  for (let i = 0; hitMakers.size < BANS * 0.9; i++) hitMakers.set(v4[i]!, () => v4[i]!);
  while (hitMakers.size < BANS * 0.95) {
    const net = (0x0a000000 + (random() & 0xffff00)) >>> 0;
    hitMakers.set(`${formatIPv4(net)}/24`, () => formatIPv4(net + (random() & 255)));
  }
  while (hitMakers.size < BANS * 0.99) {
    const n = v6Net();
    hitMakers.set(n.target, n.inside);
  }
  while (hitMakers.size < BANS) {
    const a = normalizeCidr(`2001:db8:ffff:${hex(random())}::${hex(random() | 1)}`);
    hitMakers.set(a, () => a);
  }
  const targets = [...hitMakers.keys()];
  const makers = [...hitMakers.values()];
  const hits = Array.from({ length: SAMPLE }, () => flat(makers[random() % makers.length]!()));
  const misses = Array.from({ length: SAMPLE }, (_, i) => flat(i % 4 === 0 ? v6Miss() : v4Miss()));
  return { name: `mixed, ${BANS} bans: /32 /24 /64 /128`, targets, hits, misses };
}

// --- timing ---

let sink = 0;

function timeFind(store: MemoryBanStore, addresses: string[], now: number): number {
  const n = addresses.length;
  const start = process.hrtime.bigint();
  for (let i = 0; i < LOOKUPS; i++) {
    if (store.find(addresses[i & (n - 1)]!, now) !== undefined) sink++;
  }
  return Number(process.hrtime.bigint() - start) / LOOKUPS;
}

const parsedV4 = new Float64Array(1);
const parsedV6 = new Uint16Array(8);

/** Parsing the address text alone (what every lookup by text must do first). */
function timeParse(addresses: string[]): number {
  const n = addresses.length;
  const start = process.hrtime.bigint();
  for (let i = 0; i < LOOKUPS; i++) sink += classifyIp(addresses[i & (n - 1)]!, parsedV4, parsedV6);
  return Number(process.hrtime.bigint() - start) / LOOKUPS;
}

function timeMap(map: Map<string, Ban>, addresses: string[]): number {
  const n = addresses.length;
  const start = process.hrtime.bigint();
  for (let i = 0; i < LOOKUPS; i++) {
    if (map.get(addresses[i & (n - 1)]!) !== undefined) sink++;
  }
  return Number(process.hrtime.bigint() - start) / LOOKUPS;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** Counts minor GCs (scavenges) while `fn` runs. */
async function scavengesDuring(fn: () => void): Promise<number> {
  const starts: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if ((e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) {
        starts.push(e.startTime);
      }
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  gc();
  await nextTurn();
  const begin = performance.now();
  fn();
  const end = performance.now();
  await new Promise((r) => setTimeout(r, 50));
  observer.disconnect();
  // Only collections that started while `fn` ran.
  return starts.filter((t) => t >= begin && t <= end).length;
}

/** Heap bytes per ban held by a store, and per bare ban object; measured before anything else runs. */
function memoryPerBan(all: string[], now: number): { perBan: number; perBareBan: number } {
  const heap = () => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
  const base = heap();
  const store = new MemoryBanStore({ maxBans: all.length });
  for (const t of all) store.add(ban(t, now));
  const perBan = (heap() - base) / all.length;
  sink += store.size;
  store.close();
  return { perBan, perBareBan: bareBans(all, now) };
}

function bareBans(all: string[], now: number): number {
  gc();
  gc();
  const base = process.memoryUsage().heapUsed;
  const bare = all.map((t) => Object.freeze(ban(flatten(normalizeCidr(t)), now)));
  gc();
  gc();
  const per = (process.memoryUsage().heapUsed - base) / all.length;
  sink += bare.length;
  return per;
}

async function main(): Promise<void> {
  const now = Date.now();
  // Flat canonical strings: reading a rope flattens it, which would free memory while measuring.
  const all = [
    ...v4Scenario().targets.slice(0, Math.floor(BANS / 2)),
    ...v6Scenario().targets.slice(0, BANS - Math.floor(BANS / 2)),
  ].map((t) => flat(normalizeCidr(t)));
  const { perBan, perBareBan } = memoryPerBan(all, now);
  const rows: string[][] = [];
  const parseTimes: Record<string, number> = {};
  const notes: string[] = [];
  for (const scenario of [v4Scenario(), v6Scenario(), mixedScenario()]) {
    const store = new MemoryBanStore({ maxBans: BANS });
    for (const t of scenario.targets) store.add(ban(t, now));
    // The baseline: a Map with as many string keys, holding the hit addresses themselves.
    const map = new Map<string, Ban>();
    for (const h of scenario.hits) map.set(h, ban('192.0.2.1', now));
    for (let i = 0; map.size < BANS; i++) map.set(scenario.targets[i]!, ban('192.0.2.1', now));
    for (const m of scenario.misses) if (store.find(m, now) !== undefined) throw new Error(`${m} should miss`);
    for (const h of scenario.hits) if (store.find(h, now) === undefined) throw new Error(`${h} should hit`);

    const times = { hit: [] as number[], miss: [] as number[], mapHit: [] as number[], mapMiss: [] as number[] };
    for (let round = 0; round < ROUNDS + 1; round++) {
      const r = [
        timeFind(store, scenario.hits, now),
        timeFind(store, scenario.misses, now),
        timeMap(map, scenario.hits),
        timeMap(map, scenario.misses),
      ];
      if (round === 0) continue; // warm-up
      times.hit.push(r[0]!);
      times.miss.push(r[1]!);
      times.mapHit.push(r[2]!);
      times.mapMiss.push(r[3]!);
    }
    parseTimes[scenario.name] = median(Array.from({ length: ROUNDS }, () => timeParse(scenario.misses)));
    const scavenges = await scavengesDuring(() => timeFind(store, scenario.misses, now));
    const hit = median(times.hit);
    const miss = median(times.miss);
    const mapHit = median(times.mapHit);
    const mapMiss = median(times.mapMiss);
    rows.push([
      scenario.name,
      hit.toFixed(1),
      mapHit.toFixed(1),
      `${(hit / mapHit).toFixed(2)}x`,
      miss.toFixed(1),
      mapMiss.toFixed(1),
      `${(miss / mapMiss).toFixed(2)}x`,
      String(scavenges),
    ]);
    store.close();
  }

  // The bans guard on one banned source flooding (the same address, hot in the cache), and
  // on a source that is not banned, with the last scenario's bans held.
  const guardStore = new MemoryBanStore({ maxBans: BANS });
  for (const t of all) guardStore.add(ban(t, now));
  const guard = new BansGuard(
    { mode: 'enforce', action: 'drop', defaultDuration: 3_600_000, maxBans: BANS },
    guardStore,
    {
      code: 403,
      reason: 'Forbidden',
    },
  );
  const source = (address: string): Source => ({ transport: 'udp', address: flat(address), port: 5060, family: 4 });
  const timeGuard = (src: Source): number => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < LOOKUPS; i++) if (guard.checkSource(src, 500, now).action !== 'pass') sink++;
    return Number(process.hrtime.bigint() - start) / LOOKUPS;
  };
  const bannedSource = source(all[0]!);
  const freeSource = source('192.0.2.200');
  const guardBanned: number[] = [];
  const guardFree: number[] = [];
  for (let round = 0; round < ROUNDS + 1; round++) {
    const b = timeGuard(bannedSource);
    const f = timeGuard(freeSource);
    if (round === 0) continue;
    guardBanned.push(b);
    guardFree.push(f);
  }
  guardStore.close();

  // SQLite: durable adds and opening a full file.
  const dir = mkdtempSync(join(tmpdir(), 'sipwarden-bench-bans-'));
  const file = join(dir, 'bans.db');
  let addUs = 0;
  let openMs = 0;
  let fileBytes = 0;
  try {
    const writer = new SqliteBanStore(file, { maxBans: BANS, pollInterval: 0 });
    const start = process.hrtime.bigint();
    for (const t of all) writer.add(ban(t, now));
    addUs = Number(process.hrtime.bigint() - start) / 1000 / all.length;
    writer.close();
    fileBytes = statSync(file).size;
    const t0 = process.hrtime.bigint();
    const reader = new SqliteBanStore(file, { maxBans: BANS, pollInterval: 0 });
    openMs = Number(process.hrtime.bigint() - t0) / 1e6;
    if (reader.size !== all.length) throw new Error(`reopened with ${reader.size} bans, expected ${all.length}`);
    reader.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  process.stdout.write(
    `sipwarden ban store, ${BANS} bans, ${LOOKUPS} lookups per round, median of ${ROUNDS} rounds; ` +
      `Node ${process.version}, ${cpu}\n\n`,
  );
  process.stdout.write(
    `${table(
      ['bans held', 'hit ns', 'Map.get hit', 'ratio', 'miss ns', 'Map.get miss', 'ratio', 'minor GCs in misses'],
      rows,
      new Set([1, 2, 3, 4, 5, 6, 7]),
    )}\n\n`,
  );
  process.stdout.write(
    `of a miss, parsing the address text (classifyIp): ${Object.entries(parseTimes)
      .map(([name, ns]) => `${name.split(',')[0]} ${ns.toFixed(1)} ns`)
      .join(', ')}\n`,
  );
  process.stdout.write(
    `bans guard checkSource: ${median(guardBanned).toFixed(1)} ns for one banned IPv4 source flooding, ` +
      `${median(guardFree).toFixed(1)} ns for a source that is not banned\n`,
  );
  process.stdout.write(
    `memory: ${perBan.toFixed(0)} bytes of heap per ban held (half IPv4 addresses, half IPv6 /64s), ` +
      `of which ${perBareBan.toFixed(0)} the ban object and its target string\n`,
  );
  process.stdout.write(
    `sqlite: durable add ${addUs.toFixed(1)} µs (WAL, synchronous=NORMAL); ` +
      `open with ${all.length} bans ${openMs.toFixed(0)} ms; file ${(fileBytes / all.length).toFixed(0)} bytes per ban\n`,
  );
  for (const n of notes) process.stdout.write(`${n}\n`);
  if (sink === -1) process.stdout.write('\n');
}

await main();
