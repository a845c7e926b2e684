/**
 * The proxy's counters (ProxyStats) and the upstream targets' health as registry metrics. The
 * proxy keeps counting in plain fields on its message path; these read them at scrape time.
 *
 * - `sipwarden_messages_total{direction,kind}`: requests and responses received and forwarded;
 * - `sipwarden_sip_messages_total{direction,method,class}`: the same messages by method (the
 *   known methods, else `other`; a response's is its CSeq method) and class (`request`, `1xx`..`6xx`);
 * - `sipwarden_forwarding_seconds`: histogram of the time from a message's arrival to its
 *   forwarded copy's send (buckets 50 µs to 100 ms);
 * - `sipwarden_dropped_total{reason}`, `sipwarden_replies_total{code}` (replies sipwarden
 *   generated), `sipwarden_blocked_total{guard}`, `sipwarden_honeypot_total{guard}` (messages
 *   handed to the honeypot; `held`: a source already there), `sipwarden_malformed_total{code}`,
 *   `sipwarden_keepalives_total`;
 * - `sipwarden_upstream_up{upstream,target}`: 1 while a target is in rotation, else 0.
 */
import {
  mapSamples,
  observedCounter,
  observedGauge,
  observedHistogram,
  type Registry,
  type Sample,
} from '../core/metrics.js';
import { CLASS_LABELS, cellLabels, LATENCY_BUCKETS, type ProxyStats } from './stats.js';
import type { Upstreams } from './upstreams.js';

/** Registers the metrics of `stats()` (the proxy in force). */
export function observeProxyStats(registry: Registry, stats: () => ProxyStats): void {
  observedCounter(
    registry,
    'sipwarden_messages_total',
    'SIP messages received and forwarded',
    ['direction', 'kind'],
    () => {
      const s = stats();
      return [
        [{ direction: 'received', kind: 'request' }, s.requestsReceived],
        [{ direction: 'received', kind: 'response' }, s.responsesReceived],
        [{ direction: 'forwarded', kind: 'request' }, s.requestsForwarded],
        [{ direction: 'forwarded', kind: 'response' }, s.responsesForwarded],
      ];
    },
  );
  observedCounter(
    registry,
    'sipwarden_sip_messages_total',
    'SIP messages received and forwarded, by method (a response: its CSeq method) and class (request, 1xx..6xx)',
    ['direction', 'method', 'class'],
    () => {
      const cells = stats().byMethod;
      const out: Sample[] = [];
      // Every method's requests, and the response classes seen: rate() sees a series from its first message.
      for (let cell = 0; cell < cells.length; cell++) {
        if (cells[cell]! > 0 || cell % CLASS_LABELS.length === 0) out.push([cellLabels(cell), cells[cell]!]);
      }
      return out;
    },
  );
  observedHistogram(
    registry,
    'sipwarden_forwarding_seconds',
    "Seconds from a message's arrival to its forwarded copy's send",
    () => {
      const h = stats().forwarding;
      return { bounds: LATENCY_BUCKETS, counts: h.counts, sum: h.sum };
    },
  );
  const byLabel = (
    name: string,
    help: string,
    label: string,
    map: (s: ProxyStats) => ReadonlyMap<string | number, number>,
  ) => observedCounter(registry, name, help, [label], () => mapSamples(map(stats()), label));
  byLabel('sipwarden_dropped_total', 'Messages not forwarded, by reason', 'reason', (s) => s.dropped);
  byLabel('sipwarden_replies_total', 'Replies sipwarden generated, by status code', 'code', (s) => s.replies);
  byLabel('sipwarden_blocked_total', 'Messages a guard stopped, by guard', 'guard', (s) => s.blocked);
  byLabel('sipwarden_malformed_total', 'Messages that did not parse, by error code', 'code', (s) => s.malformed);
  observedCounter(registry, 'sipwarden_keepalives_total', 'Keep-alives received (CRLF pings)', [], () => [
    [{}, stats().keepAlives],
  ]);
}

/** Registers `sipwarden_upstream_up` for the targets of `upstreams()` (the set in force). */
export function observeUpstreams(registry: Registry, upstreams: () => Upstreams): void {
  observedGauge(
    registry,
    'sipwarden_upstream_up',
    'Upstream target in rotation (1) or not (0)',
    ['upstream', 'target'],
    () => upstreams().all.map((t): Sample => [{ upstream: t.upstream, target: t.spec.url }, t.up ? 1 : 0]),
  );
}
