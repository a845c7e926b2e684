/**
 * Counters of what the proxy did with every message; read by logs and metrics. Everything here is
 * a plain number or a slot of a typed array, counted on the message path without allocating; the
 * metrics (`metrics.ts`) read it when the registry is scraped.
 */
import type { MessageContext } from '../core/context.js';
import { KNOWN_METHODS, methodNumber } from '../sip/header-names.js';
import type { SipMessage } from '../sip/message.js';

/** The `method` labels: the known methods, then `other` (a bounded set, never attacker text). */
export const METHOD_LABELS: readonly string[] = [...KNOWN_METHODS, 'other'];
/** The `class` labels: a request, or a response by its status class. */
export const CLASS_LABELS = ['request', '1xx', '2xx', '3xx', '4xx', '5xx', '6xx'] as const;
/** The `direction` labels. */
export const DIRECTIONS = ['received', 'forwarded'] as const;
const RECEIVED = 0;
const FORWARDED = 1;

/** Upper bounds (seconds) of the forwarding latency buckets: 50 µs to 100 ms. */
export const LATENCY_BUCKETS: readonly number[] = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
];

/** A histogram in plain counts (one per bucket, the last one above every bound) and a sum. */
export class LatencyHistogram {
  /** Observations per bucket, not cumulative; `counts[LATENCY_BUCKETS.length]`: above the last bound. */
  readonly counts = new Float64Array(LATENCY_BUCKETS.length + 1);
  sum = 0;

  observe(seconds: number): void {
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++;
    this.counts[i]!++;
    this.sum += seconds;
  }
}

export class ProxyStats {
  requestsReceived = 0;
  responsesReceived = 0;
  requestsForwarded = 0;
  responsesForwarded = 0;
  /**
   * Messages by direction, method and class: cell `messageCell(direction, method, class)`
   * (`DIRECTIONS`, `METHOD_LABELS`, `CLASS_LABELS` positions).
   */
  readonly byMethod = new Float64Array(DIRECTIONS.length * METHOD_LABELS.length * CLASS_LABELS.length);
  /** Seconds from a message's arrival to its forwarded copy's send. */
  readonly forwarding = new LatencyHistogram();
  /** Replies sipwarden generated, by status code. */
  readonly replies = new Map<number, number>();
  /** Messages not forwarded, by reason (malformed-response, not-our-via, no-route...). */
  readonly dropped = new Map<string, number>();
  /** Messages a guard stopped, by guard. */
  readonly blocked = new Map<string, number>();
  /** Parse errors by error code. */
  readonly malformed = new Map<string, number>();
  keepAlives = 0;

  count(map: Map<string, number> | Map<number, number>, key: string | number): void {
    const m = map as Map<string | number, number>;
    m.set(key, (m.get(key) ?? 0) + 1);
  }

  /** Counts a message dropped for `reason`; returns undefined, for `return this.stats.drop(...)`. */
  drop(reason: string): undefined {
    this.count(this.dropped, reason);
    return undefined;
  }

  /** A parsed message the modules let in. */
  received(msg: SipMessage): void {
    if (msg.isRequest) this.requestsReceived++;
    else this.responsesReceived++;
    this.byMethod[messageCell(RECEIVED, msg)]!++;
  }

  /** A message's copy was just sent: counted, with the time since its arrival. */
  forwarded(ctx: MessageContext): void {
    const msg = ctx.msg;
    if (msg.isRequest) this.requestsForwarded++;
    else this.responsesForwarded++;
    this.byMethod[messageCell(FORWARDED, msg)]!++;
    this.forwarding.observe((performance.now() - ctx.arrival) / 1000);
  }

  toJSON(): Record<string, unknown> {
    return {
      requestsReceived: this.requestsReceived,
      responsesReceived: this.responsesReceived,
      requestsForwarded: this.requestsForwarded,
      responsesForwarded: this.responsesForwarded,
      keepAlives: this.keepAlives,
      replies: Object.fromEntries(this.replies),
      dropped: Object.fromEntries(this.dropped),
      blocked: Object.fromEntries(this.blocked),
      malformed: Object.fromEntries(this.malformed),
    };
  }
}

/** The `byMethod` cell of a message: a request by its method, a response by its CSeq method and status class. */
function messageCell(direction: number, msg: SipMessage): number {
  const method = msg.isRequest ? methodNumber(msg.method) : msg.cseqMethodNumber;
  // Parsed status codes are 100..699: classes 1..6.
  const cls = msg.isRequest ? 0 : Math.min(6, Math.max(1, (msg.status / 100) | 0));
  return (direction * METHOD_LABELS.length + method) * CLASS_LABELS.length + cls;
}

/** The label values of a `byMethod` cell. */
export function cellLabels(cell: number): { direction: string; method: string; class: string } {
  const cls = cell % CLASS_LABELS.length;
  const rest = (cell - cls) / CLASS_LABELS.length;
  const method = rest % METHOD_LABELS.length;
  const direction = (rest - method) / METHOD_LABELS.length;
  return { direction: DIRECTIONS[direction]!, method: METHOD_LABELS[method]!, class: CLASS_LABELS[cls]! };
}
