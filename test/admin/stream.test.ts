/**
 * The admin event stream's resume (`Last-Event-ID`) over a real HTTP server in this process:
 * the real bus, recent-events ring and stream, read with fetch. No SIP involved, so the
 * server takes an ephemeral port on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { RecentEvents } from '../../src/admin/recent.js';
import { EventStream, MAX_REPLAY_BYTES } from '../../src/admin/stream.js';
import { EventBus } from '../../src/core/events.js';

describe('admin event stream: resuming after a lost connection', () => {
  const bus = new EventBus();
  const recent = new RecentEvents(bus);
  const stream = new EventStream(recent);
  let server: Server;
  let url = '';
  before(async () => {
    server = createServer((req, res) => {
      const last = req.headers['last-event-id'];
      stream.add(res, typeof last === 'string' ? recent.after(last) : []);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(() => {
    stream.close();
    recent.stop();
    server.close();
  });

  /** What a client reconnecting with `lastId` is sent before anything new: its frames' ids and bytes. */
  async function replay(lastId: string): Promise<{ ids: string[]; bytes: number }> {
    const controller = new AbortController();
    const r = await fetch(url, { headers: { 'last-event-id': lastId }, signal: controller.signal });
    const reader = r.body!.getReader();
    let text = '';
    // The replay is written at once: read until the socket has been quiet for 200 ms.
    for (;;) {
      const chunk = await Promise.race([reader.read(), new Promise<undefined>((resolve) => setTimeout(resolve, 200))]);
      if (chunk === undefined || chunk.done) break;
      text += new TextDecoder().decode(chunk.value);
    }
    controller.abort();
    const frames = text.split('\n\n').filter((f) => f.startsWith('id: '));
    return { ids: frames.map((f) => f.slice(4, f.indexOf('\n'))), bytes: Buffer.byteLength(frames.join('\n\n')) };
  }

  it('sends the missed events in order, and never more than MAX_REPLAY_BYTES of the newest', async () => {
    const alert = (i: number, pad: number) =>
      bus.emit({ kind: 'alert', time: i, guard: 'test', rule: 'r', message: 'x'.repeat(pad), fields: { i } });
    alert(0, 10);
    const first = recent.after('other.0');
    assert.equal(first.length, 1);
    const [epoch] = first[0]!.id.split('.');
    for (let i = 1; i <= 5; i++) alert(i, 10);
    const small = await replay(first[0]!.id);
    assert.deepEqual(
      small.ids,
      [2, 3, 4, 5, 6].map((n) => `${epoch}.${n}`),
    );

    // 600 events of about 500 bytes: far more than the replay may carry.
    for (let i = 0; i < 600; i++) alert(i, 500);
    const big = await replay(first[0]!.id);
    assert.ok(big.bytes <= MAX_REPLAY_BYTES, `${big.bytes} bytes`);
    assert.ok(big.bytes > MAX_REPLAY_BYTES - 1000, `${big.bytes} bytes: as much as fits`);
    assert.equal(big.ids.at(-1), `${epoch}.606`, 'up to the newest');
    const seqs = big.ids.map((id) => Number(id.split('.')[1]));
    assert.ok(
      seqs.every((n, k) => k === 0 || n === seqs[k - 1]! + 1),
      'consecutive',
    );
  });
});
