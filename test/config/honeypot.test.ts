import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfigFromString } from '../../src/config/index.js';

const BASE = 'listen: [udp://127.20.0.1:18000]\nupstreams: [{name: pbx, targets: [udp://127.20.0.9:18001]}]\n';
const load = (yaml: string) => loadConfigFromString(BASE + yaml, 'test.yaml', {}, { cwd: '/tmp' });

function issues(yaml: string): string[] {
  try {
    load(yaml);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.issues.map((i) => `${i.path}: ${i.message}`);
  }
  assert.fail('expected a ConfigError');
}

describe('config: honeypot', () => {
  it('has defaults', () => {
    assert.deepEqual(load('').honeypot, {
      enabled: true,
      server: 'Asterisk PBX 18.20.0',
      realm: 'asterisk',
      callDuration: 0,
      amplificationFactor: 3,
      repliesPerSecond: 20,
      maxRecords: 10_000,
      forward: undefined,
    });
  });

  it('reads every key; server none means no header; durations in ms', () => {
    const h = load(
      'honeypot:\n  enabled: false\n  server: none\n  realm: pbx.example\n  call_duration: 30s\n' +
        '  amplification_factor: 2\n  replies_per_second: 5\n  max_records: 100\n  forward: udp://192.0.2.7:5060\n',
    ).honeypot;
    assert.equal(h.enabled, false);
    assert.equal(h.server, undefined);
    assert.equal(h.realm, 'pbx.example');
    assert.equal(h.callDuration, 30_000);
    assert.equal(h.amplificationFactor, 2);
    assert.equal(h.repliesPerSecond, 5);
    assert.equal(h.maxRecords, 100);
    assert.deepEqual(h.forward, {
      transport: 'udp',
      host: '192.0.2.7',
      port: 5060,
      family: 4,
      url: 'udp://192.0.2.7:5060',
    });
    assert.equal(load('honeypot:\n  forward: tcp://[2001:db8::7]:5080\n').honeypot.forward?.transport, 'tcp');
  });

  it('refuses bad values', () => {
    assert.deepEqual(issues('honeypot:\n  forward: tls://192.0.2.7:5061\n'), [
      'honeypot.forward: must be a udp:// or tcp:// URL',
    ]);
    assert.match(issues('honeypot:\n  forward: udp://honeypot.example:5060\n')[0]!, /^honeypot\.forward: /);
    assert.match(issues('honeypot:\n  amplification_factor: 0\n')[0]!, /must be from 1 to 100/);
    assert.match(issues('honeypot:\n  realm: "a b"\n')[0]!, /^honeypot\.realm: must be/);
    assert.match(issues('honeypot:\n  server: "x\\ny"\n')[0]!, /^honeypot\.server: must be/);
    assert.match(issues('honeypot:\n  max_records: 0\n')[0]!, /^honeypot\.max_records: /);
    assert.match(issues('honeypot:\n  colour: red\n')[0]!, /^honeypot\.colour: unknown key/);
  });

  it('guards.bans.action accepts honeypot', () => {
    assert.equal(load('guards:\n  bans:\n    action: honeypot\n').guards.bans.action, 'honeypot');
  });
});
