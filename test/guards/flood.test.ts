import assert from 'node:assert/strict';
import { constants, PerformanceObserver, performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Source, Verdict } from '../../src/core/verdict.js';
import type { FloodConfig } from '../../src/guards/flood/config.js';
import { FloodGuard } from '../../src/guards/flood/flood.js';
import { RateTable } from '../../src/guards/flood/rate-table.js';
import { formatIPv4, SourceKeys } from '../../src/net/index.js';

function hit4(t: RateTable, key: number, now: number): number {
  t.key[0] = key;
  return t.hit4(now);
}

function hit6(t: RateTable, a: number, b: number, c: number, d: number, now: number): number {
  t.key.set([a, b, c, d]);
  return t.hit6(now);
}

const BASE: FloodConfig = {
  mode: 'enforce',
  window: 2000,
  maxMessages: 16,
  ban: 300_000,
  maxSources: 100_000,
};

/** A time on a window boundary (2 s and 3 s windows), far from zero. */
const T0 = 1_700_000_004_000 - (1_700_000_004_000 % 6000);

/** A flood guard; the prefixes are the top-level `sources` setting (default 32 and 64). */
function guard(overrides: Partial<FloodConfig> & { ipv4Prefix?: number; ipv6Prefix?: number } = {}): FloodGuard {
  const { ipv4Prefix = 32, ipv6Prefix = 64, ...flood } = overrides;
  return new FloodGuard({ ...BASE, ...flood }, new SourceKeys(ipv4Prefix, ipv6Prefix));
}

function source(address: string): Source {
  return { transport: 'udp', address, port: 5060, family: address.includes(':') ? 6 : 4 };
}

/** Sends `n` messages from one source at `now`, returns the verdicts. */
function burst(g: FloodGuard, s: Source, n: number, now: number): Verdict[] {
  const out: Verdict[] = [];
  for (let i = 0; i < n; i++) out.push(g.checkSource(s, 300, now));
  return out;
}

function actions(verdicts: readonly Verdict[]): string {
  const counts = new Map<string, number>();
  for (const v of verdicts) counts.set(v.action, (counts.get(v.action) ?? 0) + 1);
  return [...counts].map(([a, n]) => `${a}:${n}`).join(' ');
}

describe('flood guard: threshold', () => {
  it('allows exactly maxMessages in a window and bans the next message', () => {
    for (const start of [T0, T0 + 1234, T0 + 1999]) {
      const g = guard();
      const s = source('192.0.2.1');
      // Spread over the rest of the current bucket is not needed: all at one instant is the hardest case.
      const first = burst(g, s, 16, start);
      assert.equal(actions(first), 'pass:16', `start ${start - T0}`);
      const v = g.checkSource(s, 300, start);
      assert.equal(v.action, 'ban');
      if (v.action !== 'ban') return;
      assert.equal(v.rule, 'density');
      assert.equal(v.duration, 300_000);
      assert.equal(v.reason, 'flood');
      assert.equal(v.target, '192.0.2.1');
      assert.equal(v.detail, '17 messages in 2s (limit 16)');
      g.close();
    }
  });

  it('counts sources separately', () => {
    const g = guard({ maxMessages: 3 });
    assert.equal(actions(burst(g, source('192.0.2.1'), 3, T0)), 'pass:3');
    assert.equal(actions(burst(g, source('192.0.2.2'), 3, T0)), 'pass:3');
    assert.equal(g.checkSource(source('192.0.2.1'), 1, T0).action, 'ban');
    assert.equal(g.checkSource(source('192.0.2.3'), 1, T0).action, 'pass');
  });

  it('maxMessages 1: the second message bans', () => {
    const g = guard({ maxMessages: 1 });
    assert.equal(g.checkSource(source('198.51.100.7'), 1, T0).action, 'pass');
    assert.equal(g.checkSource(source('198.51.100.7'), 1, T0 + 1999).action, 'ban');
  });

  it('passes what is not an address without counting it', () => {
    const g = guard({ maxMessages: 1 });
    for (const bad of ['', 'x', '999.1.1.1', '1.2.3', '::g', 'a'.repeat(10_000)]) {
      assert.equal(actions(burst(g, source(bad), 5, T0)), 'pass:5');
    }
    assert.equal(g.trackedSources, 0);
  });
});

describe('flood guard: ban once, then drop', () => {
  it('returns one ban, then drops while over the limit, and bans again after the rate fell back', () => {
    const g = guard({ maxMessages: 10 });
    const s = source('203.0.113.9');
    let t = T0;
    const first = burst(g, s, 200, t);
    assert.equal(actions(first), 'pass:10 ban:1 drop:189');
    for (const v of first.slice(11)) {
      assert.equal(v.action, 'drop');
      if (v.action === 'drop') assert.equal(v.rule, 'density');
    }
    // Still flooding in the next windows: still drops, no second ban.
    for (let i = 0; i < 5; i++) {
      t += 1000;
      assert.equal(actions(burst(g, s, 50, t)), 'drop:50');
    }
    // Quiet for two windows: the episode is over, a normal rate passes.
    t += 4000;
    assert.equal(actions(burst(g, s, 10, t)), 'pass:10');
    // A new flood is a new ban.
    assert.equal(actions(burst(g, s, 5, t)), 'ban:1 drop:4');
  });

  it('hovering around the limit gives one ban, not one per crossing', () => {
    const g = guard({ maxMessages: 10, window: 1000 });
    const s = source('203.0.113.10');
    const verdicts: Verdict[] = [];
    // 11 per second, evenly, then 9 per second, then 11 again, for 30 s: the source never falls
    // to half the limit, so one episode.
    let t = T0;
    for (let second = 0; second < 30; second++) {
      const perSecond = second % 2 === 0 ? 11 : 9;
      for (let i = 0; i < perSecond; i++) verdicts.push(g.checkSource(s, 1, t + Math.floor((i * 1000) / perSecond)));
      t += 1000;
    }
    assert.equal(verdicts.filter((v) => v.action === 'ban').length, 1, actions(verdicts));
  });
});

describe('flood guard: sliding window', () => {
  it('never bans traffic spread below the density', () => {
    // 15 messages per 3 s window, evenly, at every phase against the bucket boundaries.
    for (const phase of [0, 1, 77, 199]) {
      const g = guard({ window: 3000, maxMessages: 16 });
      const s = source('192.0.2.50');
      const verdicts: Verdict[] = [];
      for (let i = 0; i < 600; i++) verdicts.push(g.checkSource(s, 1, T0 + phase + i * 200));
      assert.equal(actions(verdicts), 'pass:600', `phase ${phase}`);
    }
  });

  it('never bans a steady rate well under the limit, however long', () => {
    const g = guard({ window: 2000, maxMessages: 16 });
    const s = source('192.0.2.51');
    const verdicts: Verdict[] = [];
    for (let i = 0; i < 10_000; i++) verdicts.push(g.checkSource(s, 1, T0 + 37 + i * 150)); // 13.3 per window
    assert.equal(actions(verdicts), 'pass:10000');
  });

  it('catches a burst across a window boundary that fixed windows would miss', () => {
    // 12 messages at the end of one bucket, 12 at the start of the next: each fixed window sees
    // 12 (<= 16), the last 2 s saw 24.
    const g = guard({ window: 2000, maxMessages: 16 });
    const s = source('192.0.2.52');
    const before = burst(g, s, 12, T0 + 1900);
    assert.equal(actions(before), 'pass:12');
    const after = burst(g, s, 12, T0 + 2100);
    assert.equal(after.filter((v) => v.action === 'ban').length, 1, actions(after));
    // 0.95 of the previous 12 still counts at +100 ms: 11.4 + n > 16 from the 5th message on.
    assert.equal(actions(after.slice(0, 4)), 'pass:4');
    assert.equal(after[4]!.action, 'ban');
  });

  it('forgets a burst once it slid out of the window', () => {
    const g = guard({ window: 2000, maxMessages: 16 });
    const s = source('192.0.2.53');
    assert.equal(actions(burst(g, s, 16, T0)), 'pass:16');
    // 1.75 windows later only a quarter of the previous bucket counts: 4 + 12 = 16, allowed.
    assert.equal(actions(burst(g, s, 12, T0 + 3500)), 'pass:12');
    assert.equal(g.checkSource(s, 1, T0 + 3500).action, 'ban');
  });
});

describe('flood guard: clock steps', () => {
  it('does not add up messages across a step back of the clock', () => {
    const g = guard({ maxMessages: 16 });
    const s = source('192.0.2.60');
    // 5 per second for two minutes (10 per window), with the clock stepped back by an hour half-way.
    const verdicts: Verdict[] = [];
    for (let i = 0; i < 600; i++) {
      const now = i < 300 ? T0 + i * 200 : T0 - 3_600_000 + i * 200;
      verdicts.push(g.checkSource(s, 1, now));
    }
    assert.equal(actions(verdicts), 'pass:600');
  });

  it('still catches a flood after a step forward', () => {
    const g = guard({ maxMessages: 16 });
    const s = source('192.0.2.61');
    assert.equal(actions(burst(g, s, 10, T0)), 'pass:10');
    assert.equal(actions(burst(g, s, 17, T0 + 86_400_000)), 'pass:16 ban:1');
  });
});

describe('flood guard: aggregation', () => {
  it('counts an IPv6 /64 as one source and bans the /64', () => {
    const g = guard({ maxMessages: 99 });
    const verdicts: Verdict[] = [];
    for (let i = 1; i <= 100; i++) verdicts.push(g.checkSource(source(`2001:db8:1:2::${i.toString(16)}`), 1, T0));
    assert.equal(actions(verdicts.slice(0, 99)), 'pass:99');
    const v = verdicts[99]!;
    assert.equal(v.action, 'ban');
    if (v.action === 'ban') assert.equal(v.target, '2001:db8:1:2::/64');
    assert.equal(g.trackedSources, 1);
    // Another /64 next door is another source.
    assert.equal(g.checkSource(source('2001:db8:1:3::1'), 1, T0).action, 'pass');
    assert.equal(g.trackedSources, 2);
  });

  it('bans a single IPv6 address at /128', () => {
    const g = guard({ maxMessages: 2, ipv6Prefix: 128 });
    burst(g, source('2001:db8::1'), 2, T0);
    assert.equal(g.checkSource(source('2001:db8::2'), 1, T0).action, 'pass');
    const v = g.checkSource(source('2001:DB8:0:0::1'), 1, T0);
    assert.equal(v.action, 'ban');
    if (v.action === 'ban') assert.equal(v.target, '2001:db8::1');
  });

  it('counts IPv4-mapped IPv6 as the IPv4 address', () => {
    const g = guard({ maxMessages: 4 });
    burst(g, source('192.0.2.77'), 2, T0);
    burst(g, source('::ffff:192.0.2.77'), 2, T0);
    const v = g.checkSource(source('::ffff:c000:24d'), 1, T0);
    assert.equal(v.action, 'ban');
    if (v.action === 'ban') assert.equal(v.target, '192.0.2.77');
    assert.equal(g.trackedSources, 1);
  });

  it('aggregates IPv4 by /24 when asked, and bans the network', () => {
    const g = guard({ maxMessages: 50, ipv4Prefix: 24 });
    const verdicts: Verdict[] = [];
    for (let i = 1; i <= 51; i++) verdicts.push(g.checkSource(source(`198.51.100.${i}`), 1, T0));
    assert.equal(actions(verdicts), 'pass:50 ban:1');
    const v = verdicts[50]!;
    if (v.action === 'ban') assert.equal(v.target, '198.51.100.0/24');
    assert.equal(g.checkSource(source('198.51.101.1'), 1, T0).action, 'pass');
    assert.equal(g.trackedSources, 2);
  });

  it('does not confuse an IPv4 key with an IPv6 key of the same bits', () => {
    const g = guard({ maxMessages: 1, ipv6Prefix: 32 });
    // 192.0.2.1 is 0xc0000201; c000:201::/32 has the same first 32 bits.
    assert.equal(g.checkSource(source('192.0.2.1'), 1, T0).action, 'pass');
    assert.equal(g.checkSource(source('c000:201::1'), 1, T0).action, 'pass');
    assert.equal(g.trackedSources, 2);
  });
});

describe('flood guard: configuration', () => {
  it('refuses values out of range', () => {
    assert.throws(() => guard({ maxMessages: 0 }), RangeError);
    assert.throws(() => guard({ window: 0 }), RangeError);
    assert.throws(() => guard({ ipv4Prefix: 33 }), RangeError);
    assert.throws(() => guard({ ipv6Prefix: -1 }), RangeError);
    assert.throws(() => guard({ maxSources: 1.5 }), RangeError);
  });

  it('keeps working after close()', () => {
    const g = guard({ maxMessages: 2 });
    burst(g, source('192.0.2.1'), 2, T0);
    g.close();
    assert.equal(g.trackedSources, 0);
    assert.equal(actions(burst(g, source('192.0.2.1'), 3, T0)), 'pass:2 ban:1');
  });
});

/** Forces a full garbage collection (node:test gives no flags to the test process). */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

function memoryInUse(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

describe('flood guard: no allocation per message', () => {
  /** Minor GCs that started while `work` ran (the test runner allocates around it). */
  async function minorGcsDuring(work: () => void): Promise<number> {
    work(); // optimise first
    const minorGcs: number[] = [];
    const observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const kind = (e as { detail?: { kind?: number } }).detail?.kind;
        if (kind === constants.NODE_PERFORMANCE_GC_MINOR) minorGcs.push(e.startTime);
      }
    });
    observer.observe({ entryTypes: ['gc'] });
    collectGarbage();
    await new Promise((r) => setTimeout(r, 20));
    const start = performance.now();
    work();
    const end = performance.now();
    await new Promise((r) => setTimeout(r, 50));
    observer.disconnect();
    return minorGcs.filter((t) => t >= start && t <= end).length;
  }

  // Flat strings, as a socket reports them.
  const flat = (text: string) => Buffer.from(text, 'latin1').toString('latin1');
  // Times in V8's small-integer range: a caller passing Date.now() boxes it once per message
  // (the chain does, for all guards together); these tests are about the guard's own work.
  const t0 = 600_000_000;

  // At 16 bytes a message, 2M messages would fill the young generation (16 MiB) twice.
  for (const [name, make] of [
    ['IPv4', (i: number) => `192.0.2.${i & 255}`],
    ['IPv6', (i: number) => `2001:db8:${i.toString(16)}::${i}`],
    ['IPv4-mapped IPv6', (i: number) => `::ffff:198.51.100.${i & 255}`],
  ] as const) {
    it(`counts 1,024 tracked ${name} sources without a minor GC in 2M messages`, async () => {
      const g = guard({ maxMessages: 1_000_000, window: 2000 });
      const sources = Array.from({ length: 1024 }, (_, i) => source(flat(make(i))));
      let passed = 0;
      const minor = await minorGcsDuring(() => {
        passed = 0;
        // The windows roll (8 s in all), so estimates have fractions.
        for (let i = 0; i < 2_000_000; i++) {
          if (g.checkSource(sources[i & 1023]!, 200, t0 + (i >> 8)).action === 'pass') passed++;
        }
      });
      assert.equal(passed, 2_000_000);
      assert.equal(minor, 0, `${minor} minor GCs during 2M messages`);
    });
  }

  it('drops a flagged source without a minor GC in 2M messages', async () => {
    const g = guard({ maxMessages: 16, window: 2000 });
    const flooder = source(flat('203.0.113.66'));
    assert.equal(actions(burst(g, flooder, 17, t0)), 'pass:16 ban:1');
    let dropped = 0;
    const minor = await minorGcsDuring(() => {
      dropped = 0;
      for (let i = 0; i < 2_000_000; i++) if (g.checkSource(flooder, 200, t0 + (i >> 12)).action === 'drop') dropped++;
    });
    assert.equal(dropped, 2_000_000);
    assert.equal(minor, 0, `${minor} minor GCs during 2M messages`);
  });
});

describe('flood guard: bounded memory', () => {
  it('tracks at most maxSources of a million sources, and still bans the ones that flood', (t) => {
    const cap = 100_000;
    const g = guard({ maxSources: cap, window: 2000, maxMessages: 16 });
    collectGarbage();
    const before = memoryInUse();
    const fast = source('10.0.0.1');
    const slow = source('10.0.0.2');
    const fastVerdicts: Verdict[] = [];
    const slowVerdicts: Verdict[] = [];
    let crowdBlocked = 0;
    let now = T0;
    let maxTracked = 0;
    let messages = 0;
    // 1,000,000 distinct sources at 200,000 per second of simulated time (5 s); every other one
    // sends a second packet 1,000 sources later. Once the table is full and churning (from the
    // 300,000th source on), one attacker sends every 2,000th message (100/s, 12x the limit) and
    // another every 20,000th (10/s, just over it): between two messages of the slow one, 20,000
    // newcomers pass through the 100,000 slots.
    const distinct = 1_000_000;
    for (let i = 0; i < distinct; i++) {
      if (g.checkSource(source(formatIPv4(0x0b000000 + i)), 200, now).action !== 'pass') crowdBlocked++;
      messages++;
      if (i >= 1000 && i % 2 === 0) {
        if (g.checkSource(source(formatIPv4(0x0b000000 + i - 1000)), 200, now).action !== 'pass') crowdBlocked++;
        messages++;
      }
      if (i >= 300_000 && i % 2000 === 0) fastVerdicts.push(g.checkSource(fast, 200, now));
      if (i >= 300_000 && i % 20_000 === 0) slowVerdicts.push(g.checkSource(slow, 200, now));
      if (i % 200 === 199) now += 1;
      if (i % 10_000 === 0) maxTracked = Math.max(maxTracked, g.trackedSources);
    }
    maxTracked = Math.max(maxTracked, g.trackedSources);
    collectGarbage();
    const grown = memoryInUse() - before;
    t.diagnostic(
      `${messages} messages, at most ${maxTracked} tracked, memory grew by ${(grown / 1048576).toFixed(1)} MB`,
    );
    assert.ok(messages > 1_400_000);
    assert.equal(crowdBlocked, 0);
    assert.ok(maxTracked <= cap, `tracked ${maxTracked} > ${cap}`);
    assert.equal(maxTracked, cap);
    // 100,000 slots take about 5 MB; a Map of a million address strings would take ~100 MB.
    assert.ok(grown < 40 * 1024 * 1024, `memory grew by ${(grown / 1048576).toFixed(1)} MB`);
    // The fast attacker crosses 16 per 2 s with its 17th message, the slow one within its first
    // 2 s (20 messages per window): once each, then drops.
    assert.equal(
      fastVerdicts.findIndex((v) => v.action === 'ban'),
      16,
      actions(fastVerdicts),
    );
    assert.equal(actions(fastVerdicts.slice(17)), `drop:${fastVerdicts.length - 17}`);
    const slowBan = slowVerdicts.findIndex((v) => v.action === 'ban');
    assert.ok(slowBan >= 16 && slowBan <= 20, actions(slowVerdicts));
    assert.equal(slowVerdicts.filter((v) => v.action === 'ban').length, 1, actions(slowVerdicts));
    g.close();
  });

  it('forgets stale sources first and keeps the active ones', () => {
    const t = new RateTable(64, 1000, 100, 12345);
    // 64 sources: 0..31 active (5 messages each), 32..63 sent one message long ago.
    for (let k = 32; k < 64; k++) hit4(t, k, T0);
    for (let k = 0; k < 32; k++) for (let i = 0; i < 5; i++) hit4(t, k, T0 + 5000);
    assert.equal(t.size, 64);
    // 32 newcomers must take exactly the stale slots.
    for (let k = 100; k < 132; k++) hit4(t, k, T0 + 5000);
    assert.equal(t.size, 64);
    for (let k = 0; k < 32; k++) assert.equal(hit4(t, k, T0 + 5000), 6, `source ${k} was forgotten`);
  });

  it('gives a returning key its counts back from its ghost', () => {
    // 1,000 slots, 100 newcomers per ms (all sending twice), and a key that sends every 20 ms:
    // 2,000 evictions between two of its messages, yet its count grows by one each time.
    const t = new RateTable(1000, 2000, 125, 99);
    const now = T0;
    let next = 1_000_000;
    const estimates: number[] = [];
    for (let ms = 0; ms < 400; ms++) {
      for (let i = 0; i < 100; i++) {
        hit4(t, next, now + ms);
        hit4(t, next, now + ms);
        next++;
      }
      if (ms % 20 === 0) estimates.push(hit4(t, 7, now + ms));
    }
    assert.deepEqual(
      estimates,
      estimates.map((_, i) => i + 1),
    );
  });

  it('keeps IPv6 keys findable through evictions and index shifts', () => {
    const t = new RateTable(256, 1000, 100, 7);
    const live = new Map<number, number>();
    // Random churn over 4,096 keys with a 256-slot table; every key we know is tracked must be found.
    let x = 1;
    for (let i = 0; i < 200_000; i++) {
      x = (Math.imul(x, 1103515245) + 12345) & 0x7fffffff;
      const k = x % 4096;
      const est = hit6(t, k, k ^ 0x55, 0, -k, T0);
      if (est < 1) assert.fail(`estimate ${est}`);
      live.set(k, (live.get(k) ?? 0) + 1);
      assert.ok(t.size <= 256);
    }
    // A key hit twice in a row counts twice (it was found, not inserted anew).
    const a = hit6(t, 5, 5 ^ 0x55, 0, -5, T0);
    const b = hit6(t, 5, 5 ^ 0x55, 0, -5, T0);
    assert.equal(b, a + 1);
  });
});
