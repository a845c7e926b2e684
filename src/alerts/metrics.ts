/**
 * The webhooks' counters as registry metrics, read at scrape time (each webhook keeps counting
 * in its plain `stats`), labelled `webhook` with the URL's origin only: the path of a chat
 * webhook holds its secret.
 * - `sipwarden_alerts_webhook_sent_total`, `_failed_total`, `_dropped_total`: alerts delivered,
 *   given up after the retries, and not queued because the queue was full;
 * - `sipwarden_alerts_webhook_queued`: alerts waiting to be sent.
 * Webhooks sharing an origin are summed. Nothing is reported while no webhook is configured.
 */
import { observedCounter, observedGauge, type Registry, type Sample } from '../core/metrics.js';
import type { Alerts } from './alerts.js';

type Counted = 'sent' | 'failed' | 'dropped' | 'queued';

export function observeAlerts(registry: Registry, alerts: () => Alerts | undefined): void {
  const read = (field: Counted) => (): Sample[] => {
    const byOrigin = new Map<string, number>();
    for (const w of alerts()?.stats() ?? []) byOrigin.set(w.webhook, (byOrigin.get(w.webhook) ?? 0) + w[field]);
    return [...byOrigin].map(([webhook, n]): Sample => [{ webhook }, n]);
  };
  const counters: [Counted, string][] = [
    ['sent', 'Alerts a webhook accepted'],
    ['failed', 'Alerts given up after every retry failed'],
    ['dropped', 'Alerts not queued because the webhook queue was full'],
  ];
  for (const [field, help] of counters) {
    observedCounter(registry, `sipwarden_alerts_webhook_${field}_total`, help, ['webhook'], read(field));
  }
  observedGauge(registry, 'sipwarden_alerts_webhook_queued', 'Alerts waiting to be sent', ['webhook'], read('queued'));
}
