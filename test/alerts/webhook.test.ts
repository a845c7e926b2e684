import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Alerts } from '../../src/alerts/alerts.js';
import type { WebhookConfig } from '../../src/alerts/config.js';
import { renderBody, toAlert } from '../../src/alerts/format.js';
import { ConfigError, loadConfigFromString } from '../../src/config/index.js';
import { EventBus, type SipwardenEvent } from '../../src/core/events.js';
import { waitFor } from '../helpers/process.js';
import { ban, Receiver, silent, webhook } from './helpers.js';

/** Webhook delivery in-process: an event bus, the alerts, a local HTTP receiver on 127.114.0.2. */

const HOST = '127.114.0.2';
const running: Alerts[] = [];
after(() => {
  for (const a of running) a.close();
});

function start(...hooks: WebhookConfig[]): EventBus {
  const bus = new EventBus();
  running.push(new Alerts(bus, { webhooks: hooks }, silent));
  return bus;
}

describe('alerts: webhook formats', () => {
  const hostile = `friendly-scanner\r\nBlocking traffic from 6.6.6.6 <!channel> &${'x'.repeat(500)}`;
  const alert = toAlert(ban('192.0.2.7', hostile))!;

  it('bounds attacker text and removes control characters', () => {
    const detail = String(alert.fields.detail);
    assert.ok(detail.length <= 200, `detail is ${detail.length} characters`);
    assert.doesNotMatch(detail, /[\r\n]/);
    assert.match(detail, /friendly-scanner\\x0d\\x0aBlocking/);
    assert.equal(alert.fields.source, '192.0.2.7');
    assert.equal(alert.event, 'ban');
  });

  it('json: the event with its fields; slack: {text}; teams: a MessageCard with text', () => {
    const json = JSON.parse(renderBody('json', alert, 0));
    assert.equal(json.source, 'sipwarden');
    assert.equal(json.event, 'ban');
    assert.equal(json.fields.guard, 'scanner');
    assert.equal(json.dropped, undefined);
    const slack = JSON.parse(renderBody('slack', alert, 3));
    assert.deepEqual(Object.keys(slack), ['text']);
    assert.match(slack.text, /^sipwarden: scanner banned 192\.0\.2\.7/);
    assert.match(slack.text, /3 earlier events dropped/);
    const teams = JSON.parse(renderBody('teams', alert, 0));
    assert.equal(teams['@type'], 'MessageCard');
    assert.match(teams.text, /scanner banned 192\.0\.2\.7/);
    const detail = teams.sections[0].facts.find((f: { name: string }) => f.name === 'detail').value;
    assert.doesNotMatch(detail, /<!channel>/, 'chat mentions are written as entities');
    assert.match(detail, /&lt;!channel&gt; &amp;/);
  });

  it('guard blocks are never alerts; upstream changes are split by direction', () => {
    const block = { ...ban('192.0.2.8'), kind: 'block', action: 'drop' } as unknown as SipwardenEvent;
    assert.equal(toAlert(block), undefined);
    const down: SipwardenEvent = {
      kind: 'upstream',
      time: Date.now(),
      upstream: 'pbx',
      target: 'udp://10.0.0.10:5060',
      state: 'down',
      why: '3 pings unanswered',
    };
    assert.equal(toAlert(down)?.event, 'upstream-down');
    assert.equal(toAlert({ ...down, state: 'up', why: '' })?.event, 'upstream-up');
  });
});

describe('alerts: delivery', () => {
  it('sends only the events a webhook subscribed to, never waiting on the sender', async () => {
    const rx = new Receiver(HOST, 40521);
    await rx.start();
    try {
      const bus = start(webhook(rx.url, { events: ['upstream-down'] }));
      const t0 = performance.now();
      bus.emit(ban('192.0.2.9'));
      bus.emit({ kind: 'upstream', time: Date.now(), upstream: 'pbx', target: 'udp://x', state: 'down', why: 'w' });
      assert.ok(performance.now() - t0 < 20, 'emitting does not wait for the network');
      await waitFor(() => rx.posts.length >= 1, 'the upstream-down POST');
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(rx.posts.length, 1);
      assert.equal((rx.posts[0]!.body as { event: string }).event, 'upstream-down');
      assert.equal(rx.posts[0]!.path, '/hook/secret-token');
    } finally {
      await rx.stop();
    }
  });

  it('receiver down, then back: the alert is delivered by a retry', async () => {
    const rx = new Receiver(HOST, 40522);
    const warnings: object[] = [];
    const bus = new EventBus();
    const log = { debug: () => {}, warn: (o: object) => warnings.push(o) };
    const alerts = new Alerts(bus, { webhooks: [webhook(rx.url, { retryDelay: 150, retries: 6 })] }, log);
    running.push(alerts);
    bus.emit(ban('192.0.2.10'));
    // Attempts at about 0, 150, 450 ms (backoff doubles): let two or three fail.
    await new Promise((r) => setTimeout(r, 350));
    assert.equal(alerts.stats()[0]!.sent, 0);
    await rx.start();
    try {
      await waitFor(() => rx.posts.length >= 1, 'the retried POST', 5_000);
      const body = rx.posts[0]!.body as { event: string; fields: { target: string } };
      assert.equal(body.event, 'ban');
      assert.equal(body.fields.target, '192.0.2.10');
      await waitFor(() => alerts.stats()[0]!.sent === 1, 'the count of sent alerts');
      assert.equal(alerts.stats()[0]!.failed, 0);
      assert.deepEqual(warnings, []);
      assert.equal(alerts.stats()[0]!.webhook, `http://${HOST}:40522`, 'stats name the origin only');
    } finally {
      await rx.stop();
    }
  });

  it('a 5xx is retried, a 4xx is given up at once', async () => {
    const rx = new Receiver(HOST, 40523);
    await rx.start();
    try {
      rx.status = 503;
      const bus = new EventBus();
      const alerts = new Alerts(bus, { webhooks: [webhook(rx.url, { retryDelay: 50, retries: 2 })] }, silent);
      running.push(alerts);
      bus.emit(ban('192.0.2.11'));
      await waitFor(() => alerts.stats()[0]!.failed === 1, 'giving up after the retries');
      assert.equal(rx.posts.length, 3, 'one attempt and two retries');
      rx.status = 400;
      bus.emit(ban('192.0.2.12'));
      await waitFor(() => alerts.stats()[0]!.failed === 2, 'giving up at a 400');
      assert.equal(rx.posts.length, 4);
    } finally {
      await rx.stop();
    }
  });

  it('the rate limit holds; a full queue drops and the next POST counts the loss', async () => {
    const rx = new Receiver(HOST, 40524);
    await rx.start();
    try {
      const bus = new EventBus();
      const alerts = new Alerts(bus, { webhooks: [webhook(rx.url, { minInterval: 300, maxQueue: 4 })] }, silent);
      running.push(alerts);
      for (let i = 0; i < 10; i++) bus.emit(ban(`192.0.2.${100 + i}`));
      await new Promise((r) => setTimeout(r, 700));
      assert.ok(rx.posts.length <= 3, `${rx.posts.length} POSTs in 700 ms at one per 300 ms`);
      await waitFor(() => rx.posts.length >= 4, 'the queued alerts', 5_000);
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(rx.posts.length, 4, 'the six beyond the queue were dropped');
      for (let i = 1; i < rx.posts.length; i++) {
        const gap = rx.posts[i]!.at - rx.posts[i - 1]!.at;
        // Measured on arrival: the first POST may also have opened the connection.
        assert.ok(gap >= 200, `POSTs ${i - 1} and ${i} ${gap} ms apart`);
      }
      const targets = rx.posts.map((p) => (p.body as { fields: { target: string } }).fields.target);
      assert.deepEqual(targets, ['192.0.2.100', '192.0.2.101', '192.0.2.102', '192.0.2.103'], 'in order');
      assert.equal((rx.posts[0]!.body as { dropped?: number }).dropped, 6);
      assert.equal((rx.posts[1]!.body as { dropped?: number }).dropped, undefined);
      assert.deepEqual(alerts.stats()[0], {
        webhook: `http://${HOST}:40524`,
        sent: 4,
        failed: 0,
        dropped: 6,
        queued: 0,
      });
    } finally {
      await rx.stop();
    }
  });
});

describe('alerts: settings', () => {
  const base = 'listen: [udp://127.114.0.1:40540]\nupstreams: [{ name: pbx, targets: [udp://127.114.0.1:40541] }]\n';
  const load = (yaml: string) => loadConfigFromString(base + yaml, 'sipwarden.yaml', {}, { env: {}, cwd: '/tmp' });

  it('defaults: no webhooks; a webhook gets json, the usual events, 1s between POSTs', () => {
    assert.deepEqual(load('').alerts, { webhooks: [] });
    const [w] = load('alerts: { webhooks: [{ url: "https://hooks.example/T0/B0/xyz" }] }').alerts.webhooks;
    assert.equal(w!.format, 'json');
    assert.deepEqual(w!.events, ['ban', 'alert', 'upstream-down', 'upstream-up']);
    assert.equal(w!.minInterval, 1_000);
  });

  it('errors name the line and field, never quote the URL, and suggest event names', () => {
    const err = (yaml: string) => {
      try {
        load(yaml);
      } catch (e) {
        assert.ok(e instanceof ConfigError);
        return e.message;
      }
      assert.fail('expected a ConfigError');
    };
    const url = err('alerts:\n  webhooks:\n    - url: "ftp://hooks.example/very-secret"\n');
    assert.match(url, /sipwarden\.yaml:5.*alerts\.webhooks\[0\]\.url.*http:\/\/ or https:\/\//);
    assert.doesNotMatch(url, /very-secret/);
    assert.match(
      err('alerts: { webhooks: [{ url: "http://x/", events: [bans] }] }'),
      /alerts\.webhooks\[0\]\.events\[0\]/,
    );
    assert.match(err('alerts: { webhooks: [{ url: "http://x/", min_intervall: 2s }] }'), /min_interval/);
  });
});
