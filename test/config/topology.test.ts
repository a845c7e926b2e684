import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfigFromString } from '../../src/config/index.js';
import { ensureTopologyKey, TOPOLOGY_KEY_FILE } from '../../src/topology/keys.js';

const BASE = 'listen: [udp://127.0.0.1:5060]\nupstreams: [{ name: pbx, targets: [udp://10.0.0.5:5060] }]\n';
const HEX = 'ab'.repeat(32);

function load(text: string, env: Record<string, string> = {}) {
  return loadConfigFromString(BASE + text, 'sipwarden.yaml', {}, { env, baseDir: '/tmp', cwd: '/tmp' });
}

function problem(text: string): string {
  try {
    load(text);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.message;
  }
  return assert.fail('expected a ConfigError');
}

describe('configuration: topology', () => {
  it('hides by default, with banners removed going out and asserted identities stripped going in', () => {
    const t = load('').topology;
    assert.equal(t.hide, true);
    assert.equal(t.callId, true);
    assert.equal(t.key, undefined);
    assert.deepEqual(t.out, { server: 'remove', userAgent: 'remove', remove: [] });
    assert.deepEqual(t.in, { server: 'keep', userAgent: 'keep', remove: [], stripAssertedIdentity: true });
  });

  it('reads keys as hex or base64 from the environment, and previous keys with their end', () => {
    const b64 = Buffer.alloc(32, 7).toString('base64');
    const t = load(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} in YAML text
      'topology:\n  key: ${SIPWARDEN_TOPO_KEY}\n  previous_keys:\n    - { key: "' +
        b64 +
        '", until: 2026-12-31T00:00:00Z }\n  out: { server: { replace: Acme SBC }, remove: [X-*, P-Charging-Vector] }\n',
      { SIPWARDEN_TOPO_KEY: HEX },
    ).topology;
    assert.equal(t.key, HEX);
    assert.equal(t.previousKeys.length, 1);
    assert.equal(t.previousKeys[0]!.key, Buffer.alloc(32, 7).toString('hex'));
    assert.equal(t.previousKeys[0]!.until, Date.parse('2026-12-31T00:00:00Z'));
    assert.deepEqual(t.out.server, { replace: 'Acme SBC' });
    assert.deepEqual(t.out.remove, ['X-*', 'P-Charging-Vector']);
  });

  it('names the line and field of bad values without quoting a key', () => {
    const short = problem('topology:\n  key: abcdef\n');
    assert.match(short, /sipwarden\.yaml:4: topology\.key: must be 32 bytes/);
    assert.doesNotMatch(short, /abcdef/);
    assert.match(
      problem(`topology:\n  previous_keys: [{ key: "${HEX}", until: soon }]\n`),
      /until: "soon" is not a date/,
    );
    assert.match(problem('topology:\n  out:\n    server: { replace: "sipwarden 1.0" }\n'), /names sipwarden/);
    assert.match(
      problem('topology:\n  out:\n    remove: [Via]\n'),
      /sipwarden\.yaml:5: topology\.out\.remove\[0\]: Via cannot be removed/,
    );
    assert.match(
      problem('topology:\n  in:\n    remove: ["bad name"]\n'),
      /topology\.in\.remove\[0\]: must be a header name/,
    );
  });

  it('keeps a generated key in data_dir (0600) and reads the same one back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sipwarden-topo-key-'));
    const a = ensureTopologyKey(undefined, dir);
    assert.equal(a.length, 32);
    assert.equal(statSync(join(dir, TOPOLOGY_KEY_FILE)).mode & 0o777, 0o600);
    assert.deepEqual(ensureTopologyKey(undefined, dir), a);
    assert.equal(readFileSync(join(dir, TOPOLOGY_KEY_FILE), 'utf8').trim(), a.toString('hex'));
    assert.deepEqual(ensureTopologyKey(Buffer.from(HEX, 'hex'), dir), Buffer.from(HEX, 'hex'));
  });
});
