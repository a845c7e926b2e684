/**
 * The metrics of a running sipwarden: one prom-client Registry per Server (never the global
 * default registry, so two servers in one process, as in tests, count apart), handed to every
 * module as the logger is. Every counter is one labelled metric named `sipwarden_*`, following
 * Prometheus' conventions (`_total` for counters, base units).
 *
 * Counters on the message path stay plain numbers in their module and are read when the
 * registry is scraped (`observedCounter`): the hot path pays nothing for metrics. What the
 * event bus reports is counted here (`countEvents`).
 */
import { Counter, collectDefaultMetrics, Gauge, type Metric, Registry } from 'prom-client';
import type { EventBus } from './events.js';

export type { Registry } from 'prom-client';

export type Labels = Readonly<Record<string, string | number>>;
/** One sample read at scrape time: its label values and value. */
export type Sample = readonly [Labels, number];

/**
 * A server's registry, with prom-client's default process and Node.js metrics under their
 * standard names (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
 * `nodejs_eventloop_lag_seconds`, `nodejs_heap_size_used_bytes`, `nodejs_gc_duration_seconds`...).
 */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** A counter the caller increments. */
export function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
): Counter<L> {
  return new Counter<L>({ name, help, labelNames, registers: [registry] });
}

/** Registers a metric whose values are read from their owner when the registry is scraped. */
export type Observe = (
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly string[],
  /** Every labelled value (a plain metric: one sample with no labels); a read that throws leaves it empty. */
  read: () => Iterable<Sample>,
) => void;

/** A counter read at scrape time. */
export const observedCounter: Observe = (registry, name, help, labelNames, read) => {
  new Counter({ name, help, labelNames, registers: [registry], collect: refill(read, (c, l, v) => c.inc(l, v)) });
};

/** A gauge read at scrape time. */
export const observedGauge: Observe = (registry, name, help, labelNames, read) => {
  new Gauge({ name, help, labelNames, registers: [registry], collect: refill(read, (g, l, v) => g.set(l, v)) });
};

/** A `collect` that replaces a metric's values with those `read` gives. */
function refill<M extends { reset(): void }>(
  read: () => Iterable<Sample>,
  put: (metric: M, labels: Labels, value: number) => void,
): (this: M) => void {
  return function (this: M) {
    this.reset();
    for (const [labels, value] of samples(read)) put(this, labels, value);
  };
}

/** A histogram its owner keeps in plain counts, read at scrape time. */
export interface HistogramCounts {
  /** Upper bounds of the buckets, ascending. */
  readonly bounds: readonly number[];
  /** Observations per bucket, not cumulative; one more than `bounds`: the last is above every bound. */
  readonly counts: ArrayLike<number>;
  readonly sum: number;
}

/**
 * A histogram (no labels) read at scrape time: `name_bucket{le}` (cumulative), `name_sum`,
 * `name_count`, as prom-client's own Histogram writes them. prom-client's `observe` builds
 * objects per call, too much for the message path; this keeps the owner's plain counts.
 */
export function observedHistogram(
  registry: Registry,
  name: string,
  help: string,
  read: () => HistogramCounts | undefined,
): void {
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get: async () => ({ name, help, type: 'histogram', aggregator: 'sum', values: histogramValues(name, read) }),
    reset() {},
  };
  // The registry reads name, type, get() and reset() of what it holds; a plain object carries them.
  registry.registerMetric(metric as unknown as Metric);
}

function histogramValues(
  name: string,
  read: () => HistogramCounts | undefined,
): { labels: Labels; value: number; metricName: string }[] {
  let h: HistogramCounts | undefined;
  try {
    h = read();
  } catch {
    return [];
  }
  if (h === undefined) return [];
  const values: { labels: Labels; value: number; metricName: string }[] = [];
  let total = 0;
  for (let i = 0; i < h.bounds.length; i++) {
    total += h.counts[i] ?? 0;
    values.push({ labels: { le: h.bounds[i]! }, value: total, metricName: `${name}_bucket` });
  }
  total += h.counts[h.bounds.length] ?? 0;
  values.push({ labels: { le: '+Inf' }, value: total, metricName: `${name}_bucket` });
  values.push({ labels: {}, value: h.sum, metricName: `${name}_sum` });
  values.push({ labels: {}, value: total, metricName: `${name}_count` });
  return values;
}

/** The samples of `read`, without those a counter cannot take (negative, not finite). */
function samples(read: () => Iterable<Sample>): Sample[] {
  try {
    return [...read()].filter(([, v]) => Number.isFinite(v) && v >= 0);
  } catch {
    return [];
  }
}

/** The entries of a counting map as samples of one label. */
export function mapSamples(map: ReadonlyMap<string | number, number>, label: string): Sample[] {
  const out: Sample[] = [];
  for (const [key, value] of map) out.push([{ [label]: String(key) }, value]);
  return out;
}

/**
 * Counts what the event bus reports: guard decisions (by guard, rule, action, and whether the
 * guard only monitors), bans made and lifted, sources sent to the honeypot, alerts, upstream
 * state changes. Returns the function that stops counting.
 */
export function countEvents(registry: Registry, events: EventBus): () => void {
  const decisions = counter(registry, 'sipwarden_guard_decisions_total', 'Messages a guard blocked or banned', [
    'guard',
    'rule',
    'action',
    'monitor',
  ]);
  const banned = counter(registry, 'sipwarden_bans_added_total', 'Bans made (monitor mode excluded)', [
    'origin',
    'guard',
  ]);
  const lifted = counter(registry, 'sipwarden_bans_removed_total', 'Bans that ended before or at their expiry', [
    'reason',
    'origin',
  ]);
  const honeypot = counter(registry, 'sipwarden_honeypot_sources_total', 'Sources that entered the honeypot');
  const alerts = counter(registry, 'sipwarden_alerts_total', 'Warnings that block nothing', ['guard', 'rule']);
  const upstream = counter(registry, 'sipwarden_upstream_transitions_total', 'Upstream targets going down or up', [
    'upstream',
    'target',
    'state',
  ]);
  return events.subscribe((e) => {
    switch (e.kind) {
      case 'block':
        decisions.inc({ guard: e.guard, rule: e.rule, action: e.action, monitor: String(e.monitor) });
        return;
      case 'ban':
        if (e.origin === 'guard') {
          decisions.inc({ guard: e.guard, rule: e.rule, action: e.action, monitor: String(e.monitor) });
          if (!e.monitor) banned.inc({ origin: 'guard', guard: e.guard });
        } else {
          banned.inc({ origin: 'external', guard: e.ban.guard });
        }
        return;
      case 'unban':
        lifted.inc({ reason: 'lifted', origin: e.origin });
        return;
      case 'ban-expired':
        lifted.inc({ reason: 'expired', origin: 'local' });
        return;
      case 'bans-flushed':
        lifted.inc({ reason: 'flushed', origin: e.origin }, e.count);
        return;
      case 'honeypot':
        honeypot.inc();
        return;
      case 'alert':
        alerts.inc({ guard: e.guard, rule: e.rule });
        return;
      case 'upstream':
        upstream.inc({ upstream: e.upstream, target: e.target, state: e.state });
        return;
    }
  });
}

/** `sipwarden_bans_active`: the bans the store holds now. */
export function observeBans(registry: Registry, store: { readonly size: number }): void {
  observedGauge(registry, 'sipwarden_bans_active', 'Bans in force', [], () => [[{}, store.size]]);
}
