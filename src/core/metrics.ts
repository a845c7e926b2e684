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
import { Counter, Gauge, Registry } from 'prom-client';
import type { EventBus } from './events.js';

export type { Registry } from 'prom-client';

export type Labels = Readonly<Record<string, string | number>>;
/** One sample read at scrape time: its label values and value. */
export type Sample = readonly [Labels, number];

export function createRegistry(): Registry {
  return new Registry();
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
