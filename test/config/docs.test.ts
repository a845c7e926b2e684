import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { describe, it } from 'node:test';
import {
  ConfigError,
  DEFAULT_DATA_DIR,
  formatDuration,
  loadConfigFromString,
  schemaKeyPaths,
} from '../../src/config/index.js';
import { keyDocs, renderReference, withReference } from '../../src/config/reference.js';

// dist/test/config/ -> repository root
const docs = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');

function section(title: string): string {
  const start = docs.indexOf(`### ${title}\n`);
  assert.ok(start >= 0, `docs/configuration.md has a "### ${title}" section`);
  return docs.slice(start, docs.indexOf('\n### ', start + 1));
}

/** The rows of the options table: key path -> default cell. */
function optionRows(): Map<string, string> {
  const rows = new Map<string, string>();
  for (const m of section('Options').matchAll(/^\| `([^`]+)` \|[^|]*\|([^|]*)\|/gm)) rows.set(m[1]!, m[2]!.trim());
  return rows;
}

const documentedKeys = () => [...optionRows().keys()];

describe('docs/configuration.md', () => {
  it('has a Configuration reference section', () => {
    assert.match(docs, /^## Configuration reference$/m);
  });

  it('documents every key of the schema', () => {
    const documented = new Set(documentedKeys());
    const missing = schemaKeyPaths().filter((k) => !documented.has(k));
    assert.deepEqual(missing, [], `undocumented keys: ${missing.join(', ')}`);
  });

  it('documents no key the schema does not have', () => {
    const keys = new Set(schemaKeyPaths());
    const extra = documentedKeys().filter((k) => !keys.has(k));
    assert.deepEqual(extra, [], `documented but not in the schema: ${extra.join(', ')}`);
  });

  it('lists the keys in schema order', () => {
    assert.deepEqual(documentedKeys(), schemaKeyPaths());
  });

  it('states the defaults the schema applies', () => {
    const rows = optionRows();
    // The defaults as loading a file that sets nothing else applies them.
    const d = loadConfigFromString(
      'listen: [udp://0.0.0.0:5060]\nupstreams: [{ name: pbx, targets: [udp://10.0.0.10] }]',
      'defaults.yaml',
    );
    const ping = d.upstreams[0]!.ping;
    assert.ok(ping !== false);
    const g = d.guards;
    const t = d.topology;
    const expected: Record<string, string> = {
      'upstreams[].ping.interval': formatDuration(ping.interval),
      'upstreams[].ping.timeout': formatDuration(ping.timeout),
      'upstreams[].ping.failures': String(ping.failures),
      trusted: JSON.stringify(d.trusted),
      'sources.ipv4_prefix': String(d.sources.ipv4Prefix),
      'sources.ipv6_prefix': String(d.sources.ipv6Prefix),
      'limits.max_message_bytes': String(d.limits.maxMessageBytes),
      'limits.max_headers': String(d.limits.maxHeaders),
      'limits.max_header_bytes': String(d.limits.maxHeaderBytes),
      'limits.max_list_entries': String(d.limits.maxListEntries),
      'tcp.idle_timeout': formatDuration(d.tcp.idleTimeout),
      'tcp.connect_timeout': formatDuration(d.tcp.connectTimeout),
      'tcp.max_connections': String(d.tcp.maxConnections),
      'tcp.max_connections_per_ip': String(d.tcp.maxConnectionsPerIp),
      'tcp.upstream_reserve': String(d.tcp.upstreamReserve),
      'tcp.tls_handshake_timeout': formatDuration(d.tcp.tlsHandshakeTimeout),
      'tcp.max_pending_output': String(d.tcp.maxPendingOutput),
      'tcp.pongs_per_second': String(d.tcp.pongsPerSecond),
      'replies.bad_request_per_second': String(d.replies.badRequestPerSecond),
      data_dir: DEFAULT_DATA_DIR,
      'log.level': d.log.level,
      'guards.chain': JSON.stringify(g.chain),
      'guards.replies_per_second': String(g.repliesPerSecond),
      'guards.never_ban': JSON.stringify(g.neverBan),
      'guards.bans.default_duration': formatDuration(g.bans.defaultDuration),
      'guards.bans.max_bans': String(g.bans.maxBans),
      'guards.flood.window': formatDuration(g.flood.window),
      'guards.flood.max_messages': String(g.flood.maxMessages),
      'guards.flood.ban': formatDuration(g.flood.ban),
      'guards.flood.max_sources': String(g.flood.maxSources),
      'guards.scanner.score_threshold': String(g.scanner.scoreThreshold),
      'guards.scanner.score_window': formatDuration(g.scanner.scoreWindow),
      'guards.scanner.ban': formatDuration(g.scanner.ban),
      'store.type': d.store.type,
      'store.file': basename(d.store.path),
      'firewall.table': d.firewall.table,
      'firewall.open_tcp_ports': JSON.stringify(d.firewall.openTcpPorts),
      'topology.hide': String(t.hide),
      'topology.call_id': String(t.callId),
      'topology.internal_hosts': JSON.stringify(t.internalHosts),
      'topology.out.server': String(t.out.server),
      'topology.out.user_agent': String(t.out.userAgent),
      'topology.out.remove': JSON.stringify(t.out.remove),
      'topology.in.server': String(t.in.server),
      'topology.in.user_agent': String(t.in.userAgent),
      'topology.in.remove': JSON.stringify(t.in.remove),
      'topology.in.strip_asserted_identity': String(t.in.stripAssertedIdentity),
    };
    for (const [signal, s] of Object.entries(g.scanner.signals)) {
      expected[`guards.scanner.signals.${signal}.action`] = s.action;
      expected[`guards.scanner.signals.${signal}.points`] = String(s.points);
    }
    for (const [key, value] of Object.entries(expected)) assert.equal(rows.get(key), `\`${value}\``, key);
  });

  it('has the reference generated from the schema (npm run docs:config)', () => {
    assert.equal(docs, withReference(docs), 'docs/configuration.md is stale: run npm run docs:config');
    assert.ok(docs.includes(renderReference()));
  });

  it('has a description for every key', () => {
    const missing = keyDocs()
      .filter((k) => k.description.trim() === '')
      .map((k) => k.path);
    assert.deepEqual(missing, [], `keys without a description: ${missing.join(', ')}`);
  });

  it('has an example file that is valid (but for its certificate files)', () => {
    const example = /```yaml\n([\s\S]*?)```/.exec(section('A complete file'))![1]!;
    try {
      loadConfigFromString(example, 'example.yaml', {}, { env: { SIPWARDEN_SECRET: 'x'.repeat(32) } });
      assert.fail('the certificate files of the example do not exist here');
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      assert.deepEqual(
        err.issues.map((i) => `${i.path}: ${i.message}`),
        [
          'listen[2].cert: cannot read "/etc/sipwarden/cert.pem": no such file',
          'listen[2].key: cannot read "/etc/sipwarden/key.pem": no such file',
        ],
      );
    }
  });
});
