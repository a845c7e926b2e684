/** The webhooks of `alerts`, subscribed to the event bus. */
import type { EventBus } from '../core/events.js';
import type { AlertsConfig } from './config.js';
import { type AlertLog, Webhook } from './webhook.js';

export class Alerts {
  private readonly webhooks: readonly Webhook[];
  private readonly unsubscribe: () => void;

  constructor(events: EventBus, config: AlertsConfig, log: AlertLog) {
    this.webhooks = config.webhooks.map((w) => new Webhook(w, log));
    const webhooks = this.webhooks;
    this.unsubscribe =
      webhooks.length === 0
        ? () => {}
        : events.subscribe((e) => {
            for (const w of webhooks) w.accept(e);
          });
  }

  /** Each webhook's origin and counters (logs, metrics). */
  stats(): { webhook: string; sent: number; failed: number; dropped: number; queued: number }[] {
    return this.webhooks.map((w) => ({ webhook: w.origin, ...w.stats }));
  }

  /** Unsubscribes and stops every webhook (queued alerts are dropped). */
  close(): void {
    this.unsubscribe();
    for (const w of this.webhooks) w.close();
  }
}
