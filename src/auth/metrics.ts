/** `sipwarden_auth_outcomes_total{outcome,reason,monitor}`: what edge authentication decided. */
import { counter, type Registry } from '../core/metrics.js';
import type { AuthOutcomes } from './outcomes.js';

/** Counts every outcome of `outcomes`; returns the function that stops counting. */
export function countAuthOutcomes(registry: Registry, outcomes: AuthOutcomes): () => void {
  const c = counter(registry, 'sipwarden_auth_outcomes_total', 'Requests edge authentication checked, by outcome', [
    'outcome',
    'reason',
    'monitor',
  ]);
  return outcomes.on((o) => c.inc({ outcome: o.outcome, reason: o.reason, monitor: String(o.monitor) }));
}
