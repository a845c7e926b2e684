import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { request } from '../helpers/messages.js';
import { waitFor } from '../helpers/process.js';
import { startSipwarden } from '../helpers/sipwarden.js';
import { UdpPeer } from '../helpers/udp.js';
import { Receiver } from './helpers.js';

/** A real sipwarden bans a flood from 127.114.0.7 and tells a webhook on 127.114.0.1. */
describe('alerts: a running sipwarden', () => {
  it('a flood ban reaches the webhook', async () => {
    const rx = new Receiver('127.114.0.1', 40530);
    await rx.start();
    const sw = await startSipwarden(
      `listen: [udp://127.114.0.1:40531]
upstreams:
  - name: pbx
    targets: [udp://127.114.0.1:40532]
    ping: false
guards: { flood: { max_messages: 10, window: 2s } }
alerts:
  webhooks:
    - url: ${rx.url}
      format: slack
      min_interval: 0
`,
      { listeners: 1 },
    );
    const flood = await UdpPeer.bind('127.114.0.7');
    try {
      for (let i = 0; i < 40; i++) {
        await flood.send(request({ 'Call-ID': `flood-${i}@127.114.0.7` }), 40531, '127.114.0.1');
      }
      await waitFor(() => rx.posts.length >= 1, 'the ban alert');
      const text = (rx.posts[0]!.body as { text: string }).text;
      assert.match(text, /^sipwarden: flood banned 127\.114\.0\.7 \(rule \w+\) until /);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(rx.posts.length, 1, 'one ban, one alert');
      const logs = sw.logs();
      assert.ok(logs.some((l) => l.event === 'ban' && l.source === '127.114.0.7'));
      assert.ok(!sw.run.output().includes('secret-token'), 'the webhook URL stays out of the log');
    } finally {
      flood.close();
      assert.equal(await sw.stop(), 0);
      await rx.stop();
    }
  });
});
