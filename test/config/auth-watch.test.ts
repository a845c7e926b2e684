import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfigFromString } from '../../src/config/index.js';

const BASE = 'listen: [udp://127.0.0.1:5060]\nupstreams: [{name: p, targets: [udp://127.0.0.1:5070]}]\n';

describe('config: guards.brute_force, guards.dial_scan, guards.fraud', () => {
  it('fills in the defaults', () => {
    const g = loadConfigFromString(BASE, 'x.yaml').guards;
    assert.deepEqual(g.chain.slice(-3), ['brute_force', 'dial_scan', 'fraud']);
    assert.equal(g.bruteForce.mode, 'enforce');
    assert.equal(g.bruteForce.maxFailures, 3);
    assert.equal(g.bruteForce.window, 900_000);
    assert.equal(g.bruteForce.ban, 3_600_000);
    assert.equal(g.bruteForce.normalizeNotFound, true);
    assert.deepEqual(g.bruteForce.distributed, { sources: 10, window: 3_600_000, lock: false, lockDuration: 900_000 });
    assert.equal(g.dialScan.maxDestinations, 10);
    assert.equal(g.dialScan.window, 60_000);
    assert.deepEqual(g.dialScan.codes, [403, 404, 480, 484, 503, 604]);
    assert.deepEqual(g.fraud.callsPerMinute, { warn: 0, block: 0 });
    assert.deepEqual(g.fraud.denyPrefixes, []);
    assert.equal(g.fraud.maxCallDuration, 14_400_000);
  });

  it('reads every key', () => {
    const g = loadConfigFromString(
      `${BASE}guards:
  brute_force: {mode: monitor, max_failures: 5, window: 10m, ban: 2h, normalize_not_found: false, max_entries: 500,
    distributed: {sources: 20, window: 30m, lock: true, lock_duration: 5m}}
  dial_scan: {mode: off, window: 2m, max_destinations: 20, ban: 1d, methods: [INVITE], codes: [404, 404], max_sources: 1000}
  fraud:
    calls_per_minute: {warn: 5, block: 10}
    concurrent_calls: {block: 4}
    repeated_calls: {warn: 3, window: 10m}
    max_call_duration: 2h
    deny_prefixes: ["+882", "00882", "1900", "+882"]
    allow_prefixes: ["+33", "0033"]
    max_users: 200
`,
      'x.yaml',
    ).guards;
    assert.equal(g.bruteForce.mode, 'monitor');
    assert.equal(g.bruteForce.maxFailures, 5);
    assert.equal(g.bruteForce.window, 600_000);
    assert.equal(g.bruteForce.normalizeNotFound, false);
    assert.deepEqual(g.bruteForce.distributed, { sources: 20, window: 1_800_000, lock: true, lockDuration: 300_000 });
    assert.equal(g.dialScan.mode, 'off');
    assert.deepEqual(g.dialScan.codes, [404]);
    assert.deepEqual(g.dialScan.methods, ['INVITE']);
    assert.deepEqual(g.fraud.concurrentCalls, { warn: 0, block: 4 });
    assert.deepEqual(g.fraud.repeatedCalls, { warn: 3, block: 0, window: 600_000 });
    assert.deepEqual(g.fraud.denyPrefixes, ['+882', '00882', '1900']);
    assert.deepEqual(g.fraud.allowPrefixes, ['+33', '0033']);
  });

  it('names the line and field of bad values', () => {
    try {
      loadConfigFromString(
        `${BASE}guards:\n  brute_force: {max_failures: 0}\n  fraud: {deny_prefixes: ["+88x"]}\n`,
        'x.yaml',
      );
      assert.fail('expected an error');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      const paths = err.issues.map((i) => i.path);
      assert.deepEqual(paths, ['guards.brute_force.max_failures', 'guards.fraud.deny_prefixes[0]']);
    }
  });
});
