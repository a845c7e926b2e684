/**
 * The firewall sync's counters as registry metrics, read at scrape time from the sync in force
 * (a reload that changes `firewall` starts a new one, whose counters start at zero):
 * - `sipwarden_firewall_elements_total{result}`: kernel set elements `applied` or `failed`;
 * - `sipwarden_firewall_skipped_total`: bans not loaded (a /0 network);
 * - `sipwarden_firewall_runs_total`, `sipwarden_firewall_run_errors_total`: tool runs;
 * - `sipwarden_firewall_pending`: targets waiting for the next batch.
 */
import { observedCounter, observedGauge, type Registry, type Sample } from '../core/metrics.js';
import type { FirewallSyncStats } from './sync.js';

export function observeFirewallSync(registry: Registry, stats: () => FirewallSyncStats | undefined): void {
  const read = (pick: (s: FirewallSyncStats) => Sample[]) => () => {
    const s = stats();
    return s === undefined ? [] : pick(s);
  };
  observedCounter(
    registry,
    'sipwarden_firewall_elements_total',
    'Kernel banned-set elements written, by result',
    ['result'],
    read((s) => [
      [{ result: 'applied' }, s.applied],
      [{ result: 'failed' }, s.failed],
    ]),
  );
  observedCounter(
    registry,
    'sipwarden_firewall_skipped_total',
    'Bans not loaded into the kernel (a /0 network)',
    [],
    read((s) => [[{}, s.skipped]]),
  );
  observedCounter(
    registry,
    'sipwarden_firewall_runs_total',
    'Firewall tool runs',
    [],
    read((s) => [[{}, s.runs]]),
  );
  observedCounter(
    registry,
    'sipwarden_firewall_run_errors_total',
    'Firewall tool runs that failed',
    [],
    read((s) => [[{}, s.errors]]),
  );
  observedGauge(
    registry,
    'sipwarden_firewall_pending',
    'Ban targets waiting for the next firewall batch',
    [],
    read((s) => [[{}, s.pending]]),
  );
}
