/**
 * The admin API of a running sipwarden (bin/sipwarden run as a process), over real HTTP: every
 * endpoint, the token and its file, the failure limit, a ban that drops real SIP traffic, the
 * event stream during a flood, and reload. Addresses 127.111.x, ports 39100-39199.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../helpers/corpus.js';
import { type SipwardenInstance, startSipwarden } from '../helpers/sipwarden.js';
import { options, sleep, UdpPeer } from '../helpers/udp.js';

const SIP = { address: '127.111.0.1', port: 39100 };
const PBX = { address: '127.111.0.2', port: 39101 };
const ADMIN = 'http://127.111.0.1:39102';

const YAML = `listen: [udp://${SIP.address}:${SIP.port}]
upstreams:
  - name: pbx
    targets: [udp://${PBX.address}:${PBX.port}]
    ping: false
admin:
  listen: ${ADMIN}
`;

let sw: SipwardenInstance;
let pbx: UdpPeer;
let token: string;

async function api(path: string, init: RequestInit = {}, auth: string | undefined = token): Promise<Response> {
  const headers = new Headers(init.headers);
  if (auth !== undefined) headers.set('authorization', `Bearer ${auth}`);
  return fetch(`${ADMIN}${path}`, { ...init, headers });
}

// biome-ignore lint/suspicious/noExplicitAny: the tests read whatever JSON came back
type Json = any;

async function json(path: string, init: RequestInit = {}): Promise<{ status: number; body: Json }> {
  const r = await api(path, init);
  return { status: r.status, body: await r.json() };
}

/** A GET from a chosen local address (the failure limit counts per client address). */
function getFrom(localAddress: string, path: string, auth?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${ADMIN}${path}`,
      { localAddress, headers: auth === undefined ? {} : { authorization: auth } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const post = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

describe('admin API of a running sipwarden', () => {
  before(async () => {
    pbx = await UdpPeer.bind(PBX.address, PBX.port);
    sw = await startSipwarden(YAML, { listeners: 1 });
    token = readFileSync(join(sw.dir, 'data/admin-token'), 'utf8').trim();
  });
  after(async () => {
    await sw?.stop();
    pbx?.close();
  });

  it('makes the token file 0600 and never logs the token', () => {
    assert.equal(statSync(join(sw.dir, 'data/admin-token')).mode & 0o777, 0o600);
    assert.ok(token.length >= 32);
    assert.ok(sw.logs().some((l) => l.event === 'admin-listening' && l.url === ADMIN));
    assert.ok(!sw.run.output().includes(token));
  });

  it('refuses a request without the token or with a wrong one: 401 and nothing else', async () => {
    for (const auth of [undefined, 'Bearer wrong-token-wrong-token-wrong', 'Basic abc']) {
      const r = await getFrom('127.111.0.20', '/api/status', auth);
      assert.equal(r.status, 401);
      assert.equal(r.body, '{"error":"unauthorized"}');
    }
    const r = await getFrom('127.111.0.21', '/metrics');
    assert.equal(r.status, 401);
    assert.equal(r.body, '{"error":"unauthorized"}');
  });

  it('limits failed attempts per client address (429), not other addresses', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await getFrom('127.111.0.22', '/api/status', 'Bearer nope')).status);
    assert.deepEqual(statuses.slice(0, 10), new Array(10).fill(401));
    assert.deepEqual(statuses.slice(10), [429, 429]);
    // Even the right token waits now; another address is not affected.
    assert.equal((await getFrom('127.111.0.22', '/api/status', `Bearer ${token}`)).status, 429);
    assert.equal((await getFrom('127.111.0.23', '/api/status', `Bearer ${token}`)).status, 200);
  });

  it('GET /api/status, /api/stats, /api/upstreams', async () => {
    const status = await json('/api/status');
    assert.equal(status.status, 200);
    assert.equal(status.body.configFile, sw.configFile);
    assert.equal(status.body.node, process.version);
    assert.ok(Number.isFinite(Date.parse(status.body.startedAt)));
    assert.ok(Number.isFinite(Date.parse(status.body.configLoadedAt)));
    assert.ok(status.body.uptimeSeconds >= 0);
    assert.deepEqual(status.body.listeners, [
      { url: `udp://${SIP.address}:${SIP.port}`, transport: 'udp', address: SIP.address, port: SIP.port },
    ]);
    const stats = await json('/api/stats');
    assert.equal(typeof stats.body.requestsReceived, 'number');
    assert.deepEqual(stats.body.honeypot, {});
    const up = await json('/api/upstreams');
    assert.deepEqual(up.body, {
      upstreams: [
        {
          name: 'pbx',
          targets: [
            {
              url: `udp://${PBX.address}:${PBX.port}`,
              transport: 'udp',
              address: PBX.address,
              port: PBX.port,
              up: true,
              failures: 0,
              lastPing: null,
            },
          ],
        },
      ],
    });
  });

  it('a ban added over the API drops the source’s next SIP message; remove and flush', async () => {
    const phone = await UdpPeer.bind('127.111.0.5');
    try {
      await phone.send(options('127.111.0.5', phone.port, 'before1'), SIP.port, SIP.address);
      for (let i = 0; i < 50 && pbx.matching('before1').length === 0; i++) await sleep(20);
      assert.equal(pbx.matching('before1').length, 1, 'forwarded before the ban');

      const added = await json('/api/bans', post({ target: '127.111.0.5', duration: '1h', reason: 'test\nban' }));
      assert.equal(added.status, 201);
      assert.equal(added.body.ban.target, '127.111.0.5');
      assert.equal(added.body.ban.guard, 'admin');
      assert.equal(added.body.ban.reason, 'test ban');
      const length = Date.parse(added.body.ban.expires) - Date.parse(added.body.ban.created);
      assert.equal(length, 3_600_000);

      await phone.send(options('127.111.0.5', phone.port, 'after1'), SIP.port, SIP.address);
      await sleep(300);
      assert.equal(pbx.matching('after1').length, 0, 'dropped after the ban');

      const list = await json('/api/bans?target=127.111.0.5');
      assert.equal(list.body.total, 1);
      assert.equal(list.body.bans[0].target, '127.111.0.5');
      const none = await json('/api/bans?guard=flood');
      assert.equal(none.body.total, 0);

      assert.equal((await json('/api/bans', post({ target: 'not-an-ip', duration: '1h' }))).status, 400);
      assert.equal((await json('/api/bans', post({ target: '127.111.0.6', duration: 'forever' }))).status, 400);
      assert.equal((await json('/api/bans', post({ target: '127.111.0.6' }))).status, 400);
      assert.equal((await json('/api/bans', post({ target: '127.111.0.6', duration: '1h', x: 1 }))).status, 400);

      const net = await json('/api/bans', post({ target: '198.51.100.0/24', duration: 60_000 }));
      assert.equal(net.status, 201);
      const removed = await json(`/api/bans/${encodeURIComponent('198.51.100.0/24')}`, { method: 'DELETE' });
      assert.deepEqual(removed, { status: 200, body: { removed: true } });
      assert.equal((await json('/api/bans/198.51.100.0%2F24', { method: 'DELETE' })).status, 404);

      const flushed = await json('/api/bans/flush', { method: 'POST' });
      assert.deepEqual(flushed, { status: 200, body: { count: 1 } });
      await phone.send(options('127.111.0.5', phone.port, 'again1'), SIP.port, SIP.address);
      for (let i = 0; i < 50 && pbx.matching('again1').length === 0; i++) await sleep(20);
      assert.equal(pbx.matching('again1').length, 1, 'forwarded once the ban is lifted');
    } finally {
      phone.close();
    }
  });

  it('streams a flood ban within 1 s; the flood table, sources, events and series show it', async () => {
    const controller = new AbortController();
    const stream = await api('/api/events/stream', { signal: controller.signal });
    assert.equal(stream.status, 200);
    assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = stream.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const attacker = await UdpPeer.bind('127.111.0.6');
    try {
      const started = Date.now();
      for (let i = 0; i < 150; i++)
        attacker.send(options('127.111.0.6', attacker.port, `flood${i}`), SIP.port, SIP.address);
      let ban: Json;
      while (ban === undefined && Date.now() - started < 1000) {
        const chunk = await Promise.race([reader.read(), sleep(1000 - (Date.now() - started)).then(() => undefined)]);
        if (chunk === undefined || chunk.done) break;
        text += decoder.decode(chunk.value, { stream: true });
        for (const m of text.matchAll(/event: ban\ndata: (.*)\n\n/g)) {
          const e = JSON.parse(m[1]!);
          if (e.source?.address === '127.111.0.6') ban = e;
        }
      }
      assert.ok(ban !== undefined, `a ban event within 1 s, got: ${text.slice(0, 300)}`);
      assert.equal(ban.kind, 'ban');
      assert.equal(ban.guard, 'flood');
      assert.ok(Date.now() - started < 1000);
    } finally {
      controller.abort();
      attacker.close();
    }

    const flood = await json('/api/flood?limit=5');
    assert.equal(flood.body.window, 2000);
    assert.equal(flood.body.sources[0].source, '127.111.0.6');
    assert.ok(flood.body.sources[0].messages > 100);

    const sources = await json('/api/sources?limit=5');
    assert.equal(sources.body.sources[0].address, '127.111.0.6');
    assert.ok(sources.body.sources[0].blocked >= 1);
    assert.ok(Number.isFinite(Date.parse(sources.body.sources[0].lastSeen)));

    const events = await json('/api/events?kind=ban&limit=10');
    assert.ok(events.body.events.length >= 1);
    assert.ok(events.body.events.every((e: { kind: string }) => e.kind === 'ban'));
    const all = await json('/api/events');
    assert.ok(all.body.events.length <= 100);
    assert.ok(all.body.events.some((e: { kind: string }) => e.kind === 'unban'));

    await sleep(1100);
    const series = await json('/api/series?minutes=1');
    assert.equal(series.body.step, 1000);
    const total = series.body.points.reduce((n: number, p: { messages: number }) => n + p.messages, 0);
    assert.ok(total >= 100, `messages in the series: ${total}`);
    assert.equal((await json('/api/series?minutes=16')).status, 400);
    assert.equal((await json('/api/events?limit=0')).status, 400);
  });

  it('a stream that reconnects with Last-Event-ID gets the events it missed first', async () => {
    /** Reads a stream until `done(text)` or 2 s; returns the text and closes it. */
    const read = async (headers: Record<string, string>, done: (text: string) => boolean) => {
      const controller = new AbortController();
      const r = await api('/api/events/stream', { signal: controller.signal, headers });
      const reader = r.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      const deadline = Date.now() + 2000;
      try {
        while (!done(text) && Date.now() < deadline) {
          const chunk = await Promise.race([reader.read(), sleep(deadline - Date.now()).then(() => undefined)]);
          if (chunk === undefined || chunk.done) break;
          text += decoder.decode(chunk.value, { stream: true });
        }
      } finally {
        controller.abort();
      }
      return text;
    };
    const frames = (text: string) =>
      [...text.matchAll(/id: (\S+)\nevent: (\S+)\ndata: (.*)\n\n/g)].map((m) => ({
        id: m[1]!,
        kind: m[2]!,
        target: JSON.parse(m[3]!).ban?.target ?? JSON.parse(m[3]!).target,
      }));

    // Connected: a ban arrives with its id.
    const first = read({}, (t) => /127\.111\.0\.20/.test(t));
    await sleep(200);
    assert.equal((await json('/api/bans', post({ target: '127.111.0.20', duration: '1h' }))).status, 201);
    const seen = frames(await first);
    const last = seen.at(-1)!;
    assert.equal(last.kind, 'ban');
    assert.match(last.id, /^[0-9a-z]+\.[0-9]+$/);

    // Disconnected: two more events happen.
    assert.equal((await json('/api/bans', post({ target: '127.111.0.21', duration: '1h' }))).status, 201);
    assert.equal((await api('/api/bans/127.111.0.21', { method: 'DELETE' })).status, 200);

    // Back with the last id seen: exactly the missed ones, in order, before anything new.
    const missed = frames(await read({ 'last-event-id': last.id }, (t) => frames(t).length >= 2));
    assert.deepEqual(
      missed.map((f) => [f.kind, f.target]),
      [
        ['ban', '127.111.0.21'],
        ['unban', '127.111.0.21'],
      ],
    );
    // An id of another process: everything remembered; a made-up id: nothing replayed.
    const other = frames(await read({ 'last-event-id': 'zzzz.1' }, (t) => frames(t).length >= 3));
    assert.ok(other.length >= 3, JSON.stringify(other));
    const none = await read({ 'last-event-id': 'not-an-id' }, () => false);
    assert.deepEqual(frames(none), []);
    assert.equal((await api('/api/bans/127.111.0.20', { method: 'DELETE' })).status, 200);
  });

  it('GET /api/attacks and /api/attacks/export; GET /metrics', async () => {
    const attacks = await json('/api/attacks?limit=5');
    assert.equal(attacks.status, 200);
    assert.ok(Array.isArray(attacks.body.attacks));
    const csv = await api('/api/attacks/export?format=csv');
    assert.equal(csv.status, 200);
    assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/);
    const exported = await api('/api/attacks/export');
    assert.ok(Array.isArray(JSON.parse(await exported.text())));
    assert.equal((await api('/api/attacks/export?format=xml')).status, 400);
    const metrics = await api('/metrics');
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /sipwarden_guard_decisions_total\{guard="flood"/);
  });

  it('POST /api/reload applies the file, and refuses a bad one with its reason', async () => {
    const before = (await json('/api/status')).body.configLoadedAt;
    await sleep(5);
    assert.deepEqual(await json('/api/reload', { method: 'POST' }), { status: 200, body: { ok: true } });
    assert.notEqual((await json('/api/status')).body.configLoadedAt, before);
    const good = readFileSync(sw.configFile, 'utf8');
    writeFileSync(sw.configFile, `${good}default_upstream: nowhere\n`);
    try {
      const bad = await json('/api/reload', { method: 'POST' });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.ok, false);
      assert.match(bad.body.error, /default_upstream/);
    } finally {
      writeFileSync(sw.configFile, good);
    }
  });

  it('sipwarden status summarises the running instance (config, token from the data directory)', async () => {
    const run = promisify(execFile);
    const bin = join(PROJECT_ROOT, 'bin/sipwarden');
    const r = await run(process.execPath, [bin, 'status', '--config', sw.configFile], { timeout: 20_000 });
    assert.match(r.stdout, /^Status\n/);
    assert.match(r.stdout, new RegExp(`udp://${SIP.address}:${SIP.port}`));
    assert.match(r.stdout, /Upstream targets: 1 up, 0 down/);
    assert.match(r.stdout, /Bans active: +\d+/);
    assert.match(r.stdout, /Blocked by guard: .*flood \d+/);
    const wrong = await run(process.execPath, [bin, 'status', '--url', ADMIN, '--token', 'x'.repeat(20)], {
      timeout: 20_000,
    }).catch((e: { code: number; stderr: string }) => e);
    assert.equal((wrong as { code: number }).code, 1);
    assert.match((wrong as { stderr: string }).stderr, /token was refused/);
    const none = await run(process.execPath, [bin, 'status', '--url', 'http://127.111.0.1:39199'], {
      timeout: 20_000,
    }).catch((e: { code: number; stderr: string }) => e);
    assert.equal((none as { code: number }).code, 1);
    assert.match((none as { stderr: string }).stderr, /no sipwarden answers/);
  });

  it('keeps the token across a restart', async () => {
    await sw.stop();
    sw = await startSipwarden(YAML, { listeners: 1, dir: sw.dir });
    assert.equal(readFileSync(join(sw.dir, 'data/admin-token'), 'utf8').trim(), token);
    assert.equal(statSync(join(sw.dir, 'data/admin-token')).mode & 0o777, 0o600);
    assert.equal((await json('/api/status')).status, 200);
  });
});
