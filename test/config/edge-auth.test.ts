import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfigFromString } from '../../src/config/index.js';

const BASE = 'listen: [udp://192.0.2.1:5060]\nupstreams:\n  - name: pbx\n    targets: [udp://10.0.0.2:5060]\n';

function load(text: string) {
  return loadConfigFromString(BASE + text, 'sipwarden.yaml', {}, { env: {}, baseDir: '/etc/sipwarden', cwd: '/tmp' });
}

function errors(text: string): string[] {
  try {
    load(text);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.issues.map((i) => `${i.line ?? '-'} ${i.path}: ${i.message}`);
  }
  assert.fail('expected a ConfigError');
}

describe('config: guards.auth', () => {
  it('has defaults, and is not in the default chain', () => {
    const c = load('');
    assert.ok(!c.guards.chain.includes('auth'));
    assert.deepEqual(c.guards.auth, {
      mode: 'enforce',
      realm: 'sipwarden',
      realms: {},
      algorithms: ['sha-256', 'md5'],
      methods: ['REGISTER', 'INVITE', 'SUBSCRIBE', 'PUBLISH', 'MESSAGE', 'REFER'],
      inDialog: false,
      source: 'file',
      usersFile: undefined,
      nonceLifetime: 300_000,
      secret: undefined,
      challenge: 'auto',
      stripCredentials: true,
      challengesPerSecond: 1000,
      maxNonces: 100_000,
      identity: { check: true, aliases: {} },
    });
  });

  it('normalises every key', () => {
    const c = load(
      [
        'guards:',
        '  chain: [acl, bans, flood, scanner, sanity, auth]',
        '  auth:',
        '    mode: monitor',
        '    realm: Example PBX',
        '    realms: { Voip.Example.com: voip, b.example.org: b }',
        '    algorithms: [md5, sha-256-sess]',
        '    methods: [register, INVITE, invite]',
        '    in_dialog: true',
        '    users_file: users.txt',
        '    nonce_lifetime: 90s',
        `    secret: ${'s'.repeat(32)}`,
        '    challenge: 407',
        '    strip_credentials: false',
        '    challenges_per_second: 50',
        '    max_nonces: 500',
        '    identity: { check: false, aliases: { alice: ["1001", alice.smith] } }',
      ].join('\n'),
    );
    const a = c.guards.auth;
    assert.equal(a.mode, 'monitor');
    assert.equal(a.realm, 'Example PBX');
    assert.deepEqual(a.realms, { 'voip.example.com': 'voip', 'b.example.org': 'b' });
    assert.deepEqual(a.algorithms, ['md5', 'sha-256-sess']);
    assert.deepEqual(a.methods, ['REGISTER', 'INVITE']);
    assert.equal(a.inDialog, true);
    assert.equal(a.usersFile, '/etc/sipwarden/users.txt');
    assert.equal(a.nonceLifetime, 90_000);
    assert.equal(a.challenge, 407);
    assert.equal(a.stripCredentials, false);
    assert.equal(a.challengesPerSecond, 50);
    assert.equal(a.maxNonces, 500);
    assert.deepEqual(a.identity, { check: false, aliases: { alice: ['1001', 'alice.smith'] } });
    assert.equal(load('guards:\n  auth:\n    challenge: "401"\n').guards.auth.challenge, 401);
  });

  it('refuses bad values with line and path, never quoting the secret', () => {
    const out = errors(
      [
        'guards:',
        '  auth:',
        '    realm: "a\\"b"',
        '    algorithms: [md5, sha-512]',
        '    methods: [ACK]',
        '    challenge: 403',
        '    nonce_lifetime: 10ms',
        '    secret: short-secret-value',
        '    identity: { aliases: { alice: ["bob smith"] } }',
      ].join('\n'),
    );
    assert.equal(out.length, 7, out.join('\n'));
    assert.match(out[0]!, /^7 guards\.auth\.realm: must be 1-128 printable ASCII/);
    assert.match(out[1]!, /^8 guards\.auth\.algorithms\[1\]: must be one of sha-256, md5/);
    assert.match(out[2]!, /^9 guards\.auth\.methods\[0\]: ACK and CANCEL cannot be challenged/);
    assert.match(out[3]!, /^10 guards\.auth\.challenge: must be 401, 407 or auto/);
    assert.match(out[4]!, /^11 guards\.auth\.nonce_lifetime: must be at least 1s/);
    assert.match(out[5]!, /^12 guards\.auth\.secret: must be at least 32 characters long \(got 18\)/);
    assert.match(out[6]!, /^13 guards\.auth\.identity\.aliases\.alice\[0\]: must be a username/);
    assert.ok(!out.join('\n').includes('short-secret-value'));
  });

  it('needs users when the guard is in the chain', () => {
    assert.match(
      errors('guards:\n  chain: [sanity, auth]\n')[0]!,
      /guards\.auth\.users_file: required when guards\.chain has auth and source is file/,
    );
    assert.match(
      errors('guards:\n  chain: [auth]\n  auth:\n    source: store\nstore:\n  type: memory\n')[0]!,
      /guards\.auth\.source: store needs store\.type sqlite/,
    );
    // Off, or not in the chain: nothing needed.
    load('guards:\n  chain: [auth]\n  auth:\n    mode: off\n');
    load('guards:\n  chain: [auth]\n  auth:\n    source: store\n');
  });
});
