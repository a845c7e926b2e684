import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ConfigError, DEFAULTS, formatDuration, loadConfigFromString, schemaKeyPaths } from '../../src/config/index.js';

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
    const expected: Record<string, string> = {
      'upstreams[].ping.interval': formatDuration(DEFAULTS.ping.interval),
      'upstreams[].ping.timeout': formatDuration(DEFAULTS.ping.timeout),
      'upstreams[].ping.failures': String(DEFAULTS.ping.failures),
      trusted: JSON.stringify(DEFAULTS.trusted),
      'limits.max_message_bytes': String(DEFAULTS.limits.max_message_bytes),
      'limits.max_headers': String(DEFAULTS.limits.max_headers),
      'limits.max_header_bytes': String(DEFAULTS.limits.max_header_bytes),
      'limits.max_list_entries': String(DEFAULTS.limits.max_list_entries),
      'tcp.idle_timeout': formatDuration(DEFAULTS.tcp.idle_timeout),
      'tcp.connect_timeout': formatDuration(DEFAULTS.tcp.connect_timeout),
      'tcp.max_connections': String(DEFAULTS.tcp.max_connections),
      'tcp.max_connections_per_ip': String(DEFAULTS.tcp.max_connections_per_ip),
      'tcp.upstream_reserve': String(DEFAULTS.tcp.upstream_reserve),
      'tcp.tls_handshake_timeout': formatDuration(DEFAULTS.tcp.tls_handshake_timeout),
      'tcp.max_pending_output': String(DEFAULTS.tcp.max_pending_output),
      'tcp.pongs_per_second': String(DEFAULTS.tcp.pongs_per_second),
      'replies.bad_request_per_second': String(DEFAULTS.replies.bad_request_per_second),
      data_dir: DEFAULTS.data_dir,
      'log.level': DEFAULTS.log.level,
      'guards.chain': JSON.stringify(DEFAULTS.guards.chain),
      'guards.replies_per_second': String(DEFAULTS.guards.replies_per_second),
      'guards.bans.default_duration': formatDuration(DEFAULTS.guards.bans.default_duration),
      'guards.bans.max_bans': String(DEFAULTS.guards.bans.max_bans),
      'guards.flood.window': formatDuration(DEFAULTS.guards.flood.window),
      'guards.flood.max_messages': String(DEFAULTS.guards.flood.max_messages),
      'guards.flood.ban': formatDuration(DEFAULTS.guards.flood.ban),
      'guards.flood.ipv4_prefix': String(DEFAULTS.guards.flood.ipv4_prefix),
      'guards.flood.ipv6_prefix': String(DEFAULTS.guards.flood.ipv6_prefix),
      'guards.flood.max_sources': String(DEFAULTS.guards.flood.max_sources),
      'guards.scanner.score_threshold': String(DEFAULTS.guards.scanner.score_threshold),
      'guards.scanner.score_window': formatDuration(DEFAULTS.guards.scanner.score_window),
      'guards.scanner.ban': formatDuration(DEFAULTS.guards.scanner.ban),
      'store.type': DEFAULTS.store.type,
      'store.file': DEFAULTS.store.file,
      'firewall.table': DEFAULTS.firewall.table,
      'firewall.open_tcp_ports': JSON.stringify(DEFAULTS.firewall.open_tcp_ports),
      'topology.hide': String(DEFAULTS.topology.hide),
      'topology.call_id': String(DEFAULTS.topology.call_id),
      'topology.internal_hosts': JSON.stringify(DEFAULTS.topology.internal_hosts),
      'topology.out.server': DEFAULTS.topology.out.server,
      'topology.out.user_agent': DEFAULTS.topology.out.user_agent,
      'topology.out.remove': JSON.stringify(DEFAULTS.topology.out.remove),
      'topology.in.server': DEFAULTS.topology.in.server,
      'topology.in.user_agent': DEFAULTS.topology.in.user_agent,
      'topology.in.remove': JSON.stringify(DEFAULTS.topology.in.remove),
      'topology.in.strip_asserted_identity': String(DEFAULTS.topology.in.strip_asserted_identity),
    };
    for (const [signal, d] of Object.entries(DEFAULTS.guards.scanner.signals)) {
      expected[`guards.scanner.signals.${signal}.action`] = d.action;
      expected[`guards.scanner.signals.${signal}.points`] = String(d.points);
    }
    for (const [key, value] of Object.entries(expected)) assert.equal(rows.get(key), `\`${value}\``, key);
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
