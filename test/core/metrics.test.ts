import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { loadConfigFromString } from '../../src/config/index.js';
import { Server } from '../../src/server.js';
import { options, sleep, UdpPeer } from '../helpers/udp.js';

const PROXY = '127.109.0.1';
const PORT = 38000;
const PBX = '127.109.0.2';
const PBX_PORT = 38001;
const PHONE = '127.109.0.10';
const SCANNER = '127.109.0.20';

const SILENT = { debug() {}, info() {}, warn() {} };

/** The value of one sample in Prometheus text (`name{labels} value`), or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if (check()) return;
    await sleep(20);
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('server metrics: one registry per server, counted over real UDP', () => {
  let dir: string;
  let server: Server;
  let pbx: UdpPeer;
  let phone: UdpPeer;
  let scanner: UdpPeer;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sipwarden-metrics-'));
    const yaml = [
      `listen: [udp://${PROXY}:${PORT}]`,
      `upstreams: [{ name: pbx, targets: [udp://${PBX}:${PBX_PORT}], ping: false }]`,
      `data_dir: ${dir}`,
      'store: { type: memory }',
      '',
    ].join('\n');
    const config = loadConfigFromString(yaml, 'test.yaml', {}, { cwd: dir, env: {} });
    pbx = await UdpPeer.bind(PBX, PBX_PORT);
    phone = await UdpPeer.bind(PHONE, 0);
    scanner = await UdpPeer.bind(SCANNER, 0);
    server = await Server.start(config, SILENT);
  });

  after(async () => {
    await server?.stop();
    pbx?.close();
    phone?.close();
    scanner?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds the proxy, guard, ban and upstream counters with their values', async () => {
    for (let i = 0; i < 3; i++) await phone.send(options(PHONE, phone.port, `m${i}`), PORT, PROXY);
    await until(() => pbx.received.length === 3, 'three forwarded requests');
    await scanner.send(options(SCANNER, scanner.port, 's1', ['User-Agent: friendly-scanner']), PORT, PROXY);
    await until(() => server.bans.size === 1, 'the scanner ban');
    // Banned now: its next datagram is dropped by the bans guard, before it is parsed.
    await scanner.send(options(SCANNER, scanner.port, 's2'), PORT, PROXY);
    await until(() => server.proxy.stats.blocked.get('bans') === 1, 'the banned request');

    const text = await server.metrics.metrics();
    const at = (series: string) => sample(text, series);
    // The proxy counts a request as received once the guards let it in: the phone's three.
    assert.equal(at('sipwarden_messages_total{direction="received",kind="request"}'), 3, text);
    assert.equal(at('sipwarden_messages_total{direction="forwarded",kind="request"}'), 3, text);
    assert.equal(
      at('sipwarden_guard_decisions_total{guard="scanner",rule="user-agent",action="ban",monitor="false"}'),
      1,
      text,
    );
    assert.equal(
      at('sipwarden_guard_decisions_total{guard="bans",rule="banned",action="drop",monitor="false"}'),
      1,
      text,
    );
    assert.equal(at('sipwarden_blocked_total{guard="scanner"}'), 1, text);
    assert.equal(at('sipwarden_blocked_total{guard="bans"}'), 1, text);
    assert.equal(at('sipwarden_bans_added_total{origin="guard",guard="scanner"}'), 1, text);
    assert.equal(at('sipwarden_bans_active'), 1, text);
    assert.equal(at(`sipwarden_upstream_up{upstream="pbx",target="udp://${PBX}:${PBX_PORT}"}`), 1, text);
    assert.equal(at('sipwarden_keepalives_total'), 0, text);
    assert.equal(at('sipwarden_connections_open'), 0, text);
    assert.match(text, /# TYPE sipwarden_messages_total counter/);
    assert.match(text, /# TYPE sipwarden_bans_active gauge/);

    // Lifting the ban is counted, and the gauge follows the store.
    server.bans.remove(server.bans.list(Date.now())[0]!.target);
    const later = await server.metrics.metrics();
    assert.equal(sample(later, 'sipwarden_bans_active'), 0, later);
    assert.equal(sample(later, 'sipwarden_bans_removed_total{reason="lifted",origin="local"}'), 1, later);
  });

  it("every metric is named sipwarden_* (or is one of prom-client's default metrics), and counters end in _total", async () => {
    const text = await server.metrics.metrics();
    const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!] as const);
    assert.ok(types.length >= 20, text);
    // The process and Node.js metrics keep prom-client's standard names (some gauges end in _total).
    const defaults = new Registry();
    collectDefaultMetrics({ register: defaults });
    const standard = new Set(defaults.getMetricsAsArray().map((m) => m.name));
    for (const [name, type] of types) {
      if (standard.has(name)) continue;
      assert.match(name, /^sipwarden_[a-z0-9_]+$/);
      if (type === 'counter') assert.match(name, /_total$/, name);
      else assert.doesNotMatch(name, /_total$/, name);
    }
  });
});
