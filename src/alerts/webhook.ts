/**
 * One webhook: a bounded queue of alerts, sent one POST at a time, at most one POST per
 * `min_interval`, a failed POST retried with exponential backoff. `accept` only queues: the
 * event bus calls it on the message path, and nothing there waits for the network.
 */
import type { SipwardenEvent } from '../core/events.js';
import { RateLimit } from '../net/rate-limit.js';
import type { AlertEventName, WebhookConfig } from './config.js';
import { type Alert, alertName, renderBody, toAlert } from './format.js';

/** Longest wait between two attempts, however many failed. */
const MAX_BACKOFF_MS = 300_000;

export interface AlertLog {
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** How one POST went: delivered, worth another attempt, or refused for good (a 4xx). */
type Outcome = 'ok' | 'retry' | 'refused';

export interface WebhookStats {
  /** Alerts delivered. */
  sent: number;
  /** Alerts given up on: refused, or still failing after every retry. */
  failed: number;
  /** Alerts not queued: the queue was full. */
  dropped: number;
  /** Alerts waiting now. */
  queued: number;
}

export class Webhook {
  private readonly queue: Alert[] = [];
  private readonly wanted: ReadonlySet<AlertEventName>;
  /** Start of the last POST (epoch ms), for `min_interval`. */
  private lastPost = 0;
  private sending = false;
  private closed = false;
  /** The pending wait (rate limit or backoff) and how to end it early on close. */
  private wait: { timer: NodeJS.Timeout; done: () => void } | undefined;
  /** Dropped since the last delivered POST: the next body says so. */
  private droppedSinceSent = 0;
  /** Failure warnings: at most one a minute, whatever the number of alerts. */
  private readonly warnings = new RateLimit(1 / 60);
  readonly stats: WebhookStats = { sent: 0, failed: 0, dropped: 0, queued: 0 };
  /** What logs may name: scheme, host and port, never the path or query (a chat webhook's secret). */
  readonly origin: string;

  constructor(
    private readonly config: WebhookConfig,
    private readonly log: AlertLog,
  ) {
    this.wanted = new Set(config.events);
    this.origin = new URL(config.url).origin;
  }

  /** Queues the event when this webhook wants it; never waits. */
  accept(event: SipwardenEvent): void {
    if (this.closed) return;
    const name = alertName(event);
    if (name === undefined || !this.wanted.has(name)) return;
    if (this.queue.length >= this.config.maxQueue) {
      this.stats.dropped++;
      this.droppedSinceSent++;
      return;
    }
    const alert = toAlert(event);
    if (alert === undefined) return;
    this.queue.push(alert);
    this.stats.queued = this.queue.length;
    if (!this.sending) void this.drain();
  }

  /** Stops sending; what is queued is dropped. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
    this.stats.queued = 0;
    if (this.wait) {
      clearTimeout(this.wait.timer);
      this.wait.done();
    }
  }

  private async drain(): Promise<void> {
    this.sending = true;
    try {
      while (!this.closed && this.queue.length > 0) {
        await this.deliver(this.queue[0]!);
        this.queue.shift();
        this.stats.queued = this.queue.length;
      }
    } finally {
      this.sending = false;
    }
  }

  /** Sends one alert, retrying as configured; resolves once it is delivered or given up. */
  private async deliver(alert: Alert): Promise<void> {
    let backoff = this.config.retryDelay;
    for (let attempt = 0; ; attempt++) {
      await this.sleep(this.lastPost + this.config.minInterval - Date.now());
      if (this.closed) return;
      this.lastPost = Date.now();
      const dropped = this.droppedSinceSent;
      const outcome = await this.post(renderBody(this.config.format, alert, dropped));
      if (outcome === 'ok') {
        this.stats.sent++;
        this.droppedSinceSent -= dropped;
        return;
      }
      if (outcome === 'refused' || attempt >= this.config.retries) {
        this.stats.failed++;
        if (this.warnings.take()) {
          this.log.warn(
            { event: 'alert-failed', webhook: this.origin, alert: alert.event, attempts: attempt + 1 },
            'webhook alert not delivered',
          );
        }
        return;
      }
      await this.sleep(backoff);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  }

  private async post(body: string): Promise<Outcome> {
    try {
      const res = await fetch(this.config.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'sipwarden' },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.config.timeout),
      });
      // The answer's body is not read: release the connection.
      await res.body?.cancel().catch(() => {});
      if (res.ok) return 'ok';
      this.log.debug({ event: 'alert-attempt-failed', webhook: this.origin, status: res.status }, 'webhook refused');
      return res.status === 429 || res.status >= 500 ? 'retry' : 'refused';
    } catch (err) {
      const why = err instanceof Error ? err.name : 'error';
      this.log.debug({ event: 'alert-attempt-failed', webhook: this.origin, why }, 'webhook unreachable');
      return 'retry';
    }
  }

  /** Waits `ms` (nothing when ≤ 0); close() ends the wait at once. */
  private sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.wait = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      // A pending alert never keeps the process from exiting.
      timer.unref();
      this.wait = { timer, done };
    });
  }
}
