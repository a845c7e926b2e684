import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Alerts } from '../../src/alerts/alerts.js';
import { observeAlerts } from '../../src/alerts/metrics.js';
import { EventBus } from '../../src/core/events.js';
import { createRegistry } from '../../src/core/metrics.js';
import { waitFor } from '../helpers/process.js';
import { ban, Receiver, silent, webhook } from './helpers.js';

/** The webhooks' counters in the registry: one receiver on 127.115.0.40, one that refuses. */

const HOST = '127.115.0.40';
const running: Alerts[] = [];
after(() => {
  for (const a of running) a.close();
});

describe('alerts metrics', () => {
  it('counts sent, failed and dropped alerts by origin, never the path', async () => {
    const ok = new Receiver(HOST, 41401);
    const refusing = new Receiver(HOST, 41402);
    refusing.status = 403;
    await ok.start();
    await refusing.start();
    try {
      const bus = new EventBus();
      const alerts = new Alerts(
        bus,
        {
          webhooks: [
            webhook(ok.url, { events: ['ban'], retries: 0 }),
            webhook(refusing.url, { events: ['ban'], retries: 0, maxQueue: 2, minInterval: 60_000 }),
          ],
        },
        silent,
      );
      running.push(alerts);
      const registry = createRegistry();
      observeAlerts(registry, () => alerts);
      for (let i = 1; i <= 3; i++) bus.emit(ban(`192.0.2.${i}`));
      await waitFor(() => ok.posts.length === 3 && refusing.posts.length === 1, 'the posts');
      // The receiver has a post before its sender has the answer: wait for the sender's count too.
      await waitFor(() => alerts.stats()[0]!.sent === 3, 'the posts counted');
      await waitFor(() => alerts.stats()[1]!.failed === 1, 'the refusal counted');
      const text = await registry.metrics();
      const value = (name: string, port: number) => {
        const line = `${name}{webhook="http://${HOST}:${port}"} `;
        const found = text.split('\n').find((l) => l.startsWith(line));
        return found === undefined ? undefined : Number(found.slice(line.length));
      };
      assert.equal(value('sipwarden_alerts_webhook_sent_total', 41401), 3);
      assert.equal(value('sipwarden_alerts_webhook_failed_total', 41401), 0);
      assert.equal(value('sipwarden_alerts_webhook_failed_total', 41402), 1);
      // The refusing webhook took one, waits a minute before the next: one queued, one dropped.
      assert.equal(value('sipwarden_alerts_webhook_dropped_total', 41402), 1);
      assert.equal(value('sipwarden_alerts_webhook_queued', 41402), 1);
      assert.ok(!text.includes('secret-token'), 'the path stays out of the labels');
    } finally {
      await ok.stop();
      await refusing.stop();
    }
  });

  it('reports nothing without webhooks', async () => {
    const registry = createRegistry();
    observeAlerts(registry, () => undefined);
    assert.doesNotMatch(await registry.metrics(), /sipwarden_alerts_webhook_\w+\{/);
  });
});
