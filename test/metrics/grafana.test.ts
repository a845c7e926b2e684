/**
 * The Grafana dashboard (deploy/grafana/sipwarden.json) against a real sipwarden: a phone makes a
 * call through it over UDP to a small PBX, a scanner gets banned and then held by the honeypot;
 * the registry's text must parse strictly, hold every metric a dashboard query names, and count
 * exactly the traffic sent.
 */
import assert from 'node:assert/strict';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfigFromString } from '../../src/config/index.js';
import { Server } from '../../src/server.js';
import { waitFor } from '../helpers/process.js';
import { declaredNames, type PromFamily, parsePrometheusText, sampleValue } from '../helpers/prometheus.js';
import { options, UdpPeer } from '../helpers/udp.js';

const PROXY = '127.112.0.1';
const PORT = 39500;
const PBX = '127.112.0.2';
const PBX_PORT = 39501;
const PHONE = '127.112.0.10';
const PHONE_PORT = 39502;
const SCANNER = '127.112.0.20';
const SCANNER_PORT = 39503;

const SILENT = { debug() {}, info() {}, warn() {} };
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** A PBX that answers INVITE with 180 and 200, BYE and OPTIONS with 200, to where each came from. */
class TinyPbx {
  private constructor(readonly socket: Socket) {
    socket.on('message', (m, from) => this.answer(m.toString('latin1'), from));
  }

  static async bind(address: string, port: number): Promise<TinyPbx> {
    const s = createSocket('udp4');
    await new Promise<void>((ok, fail) => {
      s.once('error', fail);
      s.bind(port, address, () => ok());
    });
    return new TinyPbx(s);
  }

  private answer(text: string, from: RemoteInfo): void {
    const method = /^([A-Z]+) /.exec(text)?.[1];
    if (method === undefined || method === 'ACK') return;
    const head = text.slice(0, text.indexOf('\r\n\r\n')).split('\r\n');
    const copied = head.filter((l) => /^(Via|From|Call-ID|CSeq|Record-Route):/i.test(l));
    const to = head.find((l) => /^To:/i.test(l)) ?? 'To: <sip:unknown@invalid>';
    const reply = (status: string) =>
      [
        `SIP/2.0 ${status}`,
        ...copied,
        to.includes(';tag=') ? to : `${to};tag=pbx`,
        `Contact: <sip:100@${PBX}:${PBX_PORT}>`,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
    if (method === 'INVITE') this.socket.send(reply('180 Ringing'), from.port, from.address);
    this.socket.send(reply('200 OK'), from.port, from.address);
  }

  close(): void {
    this.socket.close();
  }
}

/** A request of the phone's call (INVITE, ACK, BYE share one Call-ID). */
function callRequest(method: string, cseq: number, branch: string, toTag = ''): string {
  return [
    `${method} sip:100@${PBX}:${PBX_PORT} SIP/2.0`,
    `Via: SIP/2.0/UDP ${PHONE}:${PHONE_PORT};branch=z9hG4bK${branch};rport`,
    'Max-Forwards: 70',
    `From: <sip:200@example.com>;tag=phone`,
    `To: <sip:100@example.com>${toTag}`,
    'Call-ID: call-1@test',
    `CSeq: ${cseq} ${method}`,
    `Contact: <sip:200@${PHONE}:${PHONE_PORT}>`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/** Every PromQL expression of the dashboard: panel targets (rows included) and variable queries. */
function dashboardQueries(dashboard: {
  panels: { targets?: { expr: string }[]; panels?: unknown[] }[];
  templating: { list: { query?: unknown }[] };
}): string[] {
  const exprs: string[] = [];
  const visit = (panels: { targets?: { expr: string }[]; panels?: unknown[] }[]) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) exprs.push(t.expr);
      visit((p.panels ?? []) as typeof panels);
    }
  };
  visit(dashboard.panels);
  for (const v of dashboard.templating.list) {
    const q = v.query as { query?: string } | string | undefined;
    const text = typeof q === 'string' ? q : q?.query;
    if (text?.includes('(')) exprs.push(text);
  }
  return exprs;
}

/** Metric names in a PromQL expression: sipwarden's own and the standard process_/nodejs_ ones. */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b(?:sipwarden|process|nodejs)_[a-zA-Z0-9_]+/g)].map((m) => m[0]);
}

describe('metrics: the Grafana dashboard against a real sipwarden', () => {
  let dir: string;
  let server: Server;
  let pbx: TinyPbx;
  let phone: UdpPeer;
  let scanner: UdpPeer;
  let families: Map<string, PromFamily>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sipwarden-grafana-'));
    const yaml = [
      `listen: [udp://${PROXY}:${PORT}]`,
      `upstreams: [{ name: pbx, targets: [udp://${PBX}:${PBX_PORT}], ping: false }]`,
      `data_dir: ${dir}`,
      'store: { type: memory }',
      // A banned source's messages go to the honeypot: the scanner's second request ends there.
      'guards: { bans: { action: honeypot } }',
      '',
    ].join('\n');
    const config = loadConfigFromString(yaml, 'test.yaml', {}, { cwd: dir, env: {} });
    pbx = await TinyPbx.bind(PBX, PBX_PORT);
    phone = await UdpPeer.bind(PHONE, PHONE_PORT);
    scanner = await UdpPeer.bind(SCANNER, SCANNER_PORT);
    server = await Server.start(config, SILENT);

    // A call: INVITE (180, 200), ACK, BYE (200); every message goes through sipwarden.
    await phone.send(callRequest('INVITE', 1, 'inv1'), PORT, PROXY);
    await waitFor(() => phone.matching('SIP/2.0 200 OK').length === 1, 'the 200 to the INVITE');
    await phone.send(callRequest('ACK', 1, 'ack1', ';tag=pbx'), PORT, PROXY);
    await phone.send(callRequest('BYE', 2, 'bye1', ';tag=pbx'), PORT, PROXY);
    await waitFor(() => phone.matching('SIP/2.0 200 OK').length === 2, 'the 200 to the BYE');
    // A scanner: banned at its first request, held by the honeypot at its second.
    await scanner.send(options(SCANNER, SCANNER_PORT, 's1', ['User-Agent: friendly-scanner']), PORT, PROXY);
    await waitFor(() => server.bans.size === 1, 'the scanner ban');
    await scanner.send(options(SCANNER, SCANNER_PORT, 's2'), PORT, PROXY);
    await waitFor(() => scanner.received.length >= 1, "the honeypot's answer");
    families = parsePrometheusText(await server.metrics.metrics());
  });

  after(async () => {
    await server?.stop();
    pbx?.close();
    phone?.close();
    scanner?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('every metric a dashboard query names is in the registry', () => {
    const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/sipwarden.json'), 'utf8'));
    const queries = dashboardQueries(dashboard);
    assert.ok(queries.length >= 20, `${queries.length} queries`);
    // Declared, with a TYPE line: a labelled counter nothing has counted yet has no sample.
    const present = declaredNames(families);
    const missing = new Set<string>();
    for (const expr of queries) {
      const names = metricNames(expr);
      assert.ok(names.length > 0, `no metric in ${expr}`);
      for (const name of names) if (!present.has(name)) missing.add(name);
    }
    assert.deepEqual([...missing], [], `not in the registry: ${[...missing].join(', ')}`);
    // Every panel reads the dashboard's Prometheus datasource variable.
    const datasource = dashboard.templating.list.find((v: { type: string }) => v.type === 'datasource');
    assert.equal(datasource?.query, 'prometheus');
    for (const panel of dashboard.panels.filter((p: { type: string }) => p.type !== 'row')) {
      assert.equal(panel.datasource?.uid, `\${datasource}`, panel.title);
    }
  });

  it('parses strictly: what is not well formed is refused', () => {
    const typed = '# TYPE x_total counter\n';
    assert.equal(sampleValue(parsePrometheusText(`${typed}x_total{a="b\\"c"} 2\n`), 'x_total', { a: 'b"c' }), 2);
    for (const bad of [
      'x_total 1\n', // no TYPE
      `${typed}x_total{a="b} 1\n`, // label value not closed
      `${typed}x_total{a=b} 1\n`, // not quoted
      `${typed}x_total 1\nx_total 2\n`, // series repeated
      `${typed}x_total one\n`, // bad value
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\n', // not cumulative
    ]) {
      assert.throws(() => parsePrometheusText(bad), Error, bad);
    }
  });

  it('counts the call by direction, method and class', () => {
    const messages = (direction: string, method: string, cls: string) =>
      sampleValue(families, 'sipwarden_sip_messages_total', { direction, method, class: cls });
    for (const direction of ['received', 'forwarded']) {
      assert.equal(messages(direction, 'INVITE', 'request'), 1, direction);
      assert.equal(messages(direction, 'ACK', 'request'), 1, direction);
      assert.equal(messages(direction, 'BYE', 'request'), 1, direction);
      assert.equal(messages(direction, 'INVITE', '1xx'), 1, direction);
      assert.equal(messages(direction, 'INVITE', '2xx'), 1, direction);
      assert.equal(messages(direction, 'BYE', '2xx'), 1, direction);
      // Every method's requests are reported from the start, zero or not.
      assert.equal(messages(direction, 'REGISTER', 'request'), 0, direction);
    }
    // The scanner's requests never got in: no OPTIONS counted.
    assert.equal(messages('received', 'OPTIONS', 'request'), 0);
    assert.equal(
      sampleValue(families, 'sipwarden_messages_total', { direction: 'received', kind: 'request' }),
      3,
      'the totals agree',
    );
    assert.equal(sampleValue(families, 'sipwarden_messages_total', { direction: 'forwarded', kind: 'response' }), 3);
  });

  it('times every forwarded message in the latency histogram', () => {
    assert.equal(families.get('sipwarden_forwarding_seconds')?.type, 'histogram');
    assert.equal(sampleValue(families, 'sipwarden_forwarding_seconds_count'), 6);
    assert.equal(sampleValue(families, 'sipwarden_forwarding_seconds_bucket', { le: '+Inf' }), 6);
    const sum = sampleValue(families, 'sipwarden_forwarding_seconds_sum')!;
    assert.ok(sum > 0 && sum < 6, `sum ${sum}`);
    assert.ok(sampleValue(families, 'sipwarden_forwarding_seconds_bucket', { le: '0.00005' }) !== undefined);
    assert.ok(sampleValue(families, 'sipwarden_forwarding_seconds_bucket', { le: '0.1' }) !== undefined);
  });

  it('counts the block, the ban, the honeypot and the upstream', () => {
    assert.equal(sampleValue(families, 'sipwarden_blocked_total', { guard: 'scanner' }), 1);
    assert.equal(
      sampleValue(families, 'sipwarden_guard_decisions_total', { guard: 'scanner', rule: 'user-agent', action: 'ban' }),
      1,
    );
    assert.equal(sampleValue(families, 'sipwarden_bans_active'), 1);
    assert.equal(sampleValue(families, 'sipwarden_bans_added_total', { origin: 'guard', guard: 'scanner' }), 1);
    assert.equal(sampleValue(families, 'sipwarden_honeypot_sources_total'), 1);
    assert.equal(sampleValue(families, 'sipwarden_honeypot_total', { guard: 'bans' }), 1);
    assert.equal(sampleValue(families, 'sipwarden_upstream_up', { upstream: 'pbx' }), 1);
    assert.equal(sampleValue(families, 'sipwarden_connections_open'), 0);
  });

  it('holds the process and Node.js metrics under their standard names', () => {
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds']) {
      assert.ok(families.has(name), name);
    }
    assert.ok(sampleValue(families, 'process_cpu_seconds_total')! > 0);
  });
});
