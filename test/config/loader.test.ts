// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} in YAML text is what these tests are about
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  buildTrustedSet,
  type CliOverrides,
  type Config,
  ConfigError,
  ensureSecret,
  type LoadOptions,
  loadConfig,
  loadConfigFromString,
} from '../../src/config/index.js';

let dir: string;
const SECRET = 'k'.repeat(40);

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sipwarden-config-'));
  writeFileSync(join(dir, 'cert.pem'), 'CERT');
  writeFileSync(join(dir, 'key.pem'), 'KEY');
});
after(() => rmSync(dir, { recursive: true, force: true }));

function load(text: string, overrides: CliOverrides = {}, options: LoadOptions = {}): Config {
  return loadConfigFromString(text, 'sipwarden.yaml', overrides, { env: {}, baseDir: dir, cwd: dir, ...options });
}

function loadError(text: string, overrides: CliOverrides = {}, options: LoadOptions = {}): ConfigError {
  try {
    load(text, overrides, options);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ConfigError');
}

/** Lines of `text` joined with newlines; keeps the line numbers in the tests readable. */
const yaml = (...lines: string[]) => `${lines.map((l) => l.replace(/\n$/, '')).join('\n')}\n`;

const MINIMAL = yaml(
  'listen: [udp://0.0.0.0:5060]',
  'upstreams:',
  '  - name: pbx',
  '    targets: [udp://10.0.0.10:5060]',
);

const FULL = yaml(
  'listen:', //                                               1
  '  - udp://0.0.0.0:5060', //                                2
  '  - tcp://[::]:5060', //                                   3
  '  - url: tls://0.0.0.0:5061', //                           4
  '    cert: cert.pem', //                                    5
  '    key: key.pem', //                                      6
  '    advertise: sip.example.com', //                        7
  'upstreams:', //                                            8
  '  - name: pbx', //                                         9
  '    targets: [udp://10.0.0.10:5060, tcp://10.0.0.11:5060]', // 10
  '    ping: { interval: 10s, timeout: 2s, failures: 3 }', // 11
  '  - name: trunk', //                                       12
  '    targets:', //                                          13
  '      - tls://sip.carrier.example', //                     14
  '      - udp://[2001:db8::20]:5080', //                     15
  '    ping: false', //                                       16
  'default_upstream: pbx', //                                 17
  'trusted: [10.0.0.0/8, "2001:db8::/32", 192.0.2.7]', //     18
  'limits: { max_message_bytes: 65535, max_headers: 100, max_header_bytes: 4096 }', // 19
  'tcp: { idle_timeout: 5m, connect_timeout: 500ms, max_connections: 2000, max_connections_per_ip: 16 }', // 20
  'replies: { bad_request_per_second: 20 }', //               21
  'secret: ${SIPWARDEN_SECRET}', //                           22
  'data_dir: /var/lib/sipwarden', //                          23
  'log: { level: debug }', //                                 24
);

describe('loadConfigFromString: sources and guards.never_ban', () => {
  it('reads sources and never_ban (canonical, without repeats)', () => {
    const config = load(
      yaml(
        MINIMAL,
        'sources: { ipv4_prefix: 24, ipv6_prefix: 56 }',
        'guards:',
        '  never_ban: [192.0.2.50, "2001:DB8:5::/48", 192.0.2.50, "::ffff:198.51.100.9"]',
      ),
    );
    assert.deepEqual(config.sources, { ipv4Prefix: 24, ipv6Prefix: 56 });
    assert.deepEqual(config.guards.neverBan, ['192.0.2.50', '2001:db8:5::/48', '198.51.100.9']);
  });

  it('names the new place of both old flood prefixes, with their lines', () => {
    const err = loadError(
      yaml(
        MINIMAL, //                                  1-4
        'guards:', //                                5
        '  flood:', //                               6
        '    ipv4_prefix: 24', //                    7
        '    ipv6_prefix: 48', //                    8
      ),
    );
    assert.deepEqual(
      err.issues.map((i) => `${i.line} ${i.path}: ${i.message.split(',')[0]}`),
      [
        '7 guards.flood.ipv4_prefix: moved to sources.ipv4_prefix',
        '8 guards.flood.ipv6_prefix: moved to sources.ipv6_prefix',
      ],
    );
  });
});

describe('loadConfigFromString: guards, store and firewall', () => {
  it('reads every guard section', () => {
    const config = load(
      yaml(
        MINIMAL,
        'guards:',
        '  chain: [bans, flood, scanner]',
        '  reply: { code: 488, reason: Not Here }',
        '  acl: { deny: [192.0.2.0/24], deny_files: [deny.txt], default: deny, action: reply }',
        '  bans: { action: reply, default_duration: 10m, max_bans: 500 }',
        '  flood: { mode: monitor, window: 1s, max_messages: 50, ban: 1m, max_sources: 1000 }',
        '  sanity: { checks: [via, cseq] }',
        '  scanner:',
        "    user_agents: [evil, '/^bad[0-9]+$/']",
        '    signals: { user_agent: honeypot, ip_literal_host: { action: score, points: 7 } }',
        '    score_threshold: 20',
        'store: { type: memory }',
        'firewall: { sync: true, backend: iptables, open_tcp_ports: [22, 2222] }',
      ),
    );
    const g = config.guards;
    assert.deepEqual(g.chain, ['bans', 'flood', 'scanner']);
    assert.deepEqual(g.reply, { code: 488, reason: 'Not Here' });
    assert.deepEqual(g.acl.deny, ['192.0.2.0/24']);
    assert.deepEqual(g.acl.denyFiles, [join(dir, 'deny.txt')]);
    assert.equal(g.acl.default, 'deny');
    assert.deepEqual(g.bans, { mode: 'enforce', action: 'reply', defaultDuration: 600_000, maxBans: 500 });
    assert.equal(g.flood.mode, 'monitor');
    assert.equal(g.flood.maxMessages, 50);
    assert.deepEqual(g.sanity.checks, ['via', 'cseq']);
    assert.deepEqual(g.scanner.userAgents, ['evil', '/^bad[0-9]+$/']);
    assert.deepEqual(g.scanner.signals.user_agent, { action: 'honeypot', points: 10 });
    assert.deepEqual(g.scanner.signals.ip_literal_host, { action: 'score', points: 7 });
    assert.deepEqual(g.scanner.signals.sql_injection, { action: 'ban', points: 10 });
    assert.equal(g.scanner.scoreThreshold, 20);
    assert.equal(config.store.type, 'memory');
    assert.deepEqual(config.firewall.openTcpPorts, [22, 2222]);
    assert.equal(config.firewall.backend, 'iptables');
  });

  it('reads firewall.open_udp_ports as ports and ranges, and names a bad one', () => {
    const config = load(yaml(MINIMAL, 'firewall:', '  open_udp_ports: [5004, "10000-20000", " 30000 - 30010 "]'));
    assert.deepEqual(config.firewall.openUdpPorts, [
      { from: 5004, to: 5004 },
      { from: 10000, to: 20000 },
      { from: 30000, to: 30010 },
    ]);
    const err = loadError(
      yaml(MINIMAL, 'firewall:', '  open_udp_ports:', '    - 20000-10000', '    - 70000', '    - rtp'),
    );
    assert.deepEqual(
      err.issues.map((i) => `${i.line} ${i.path}: ${i.message}`),
      [
        '7 firewall.open_udp_ports[0]: the range 20000-10000 ends before it starts',
        '8 firewall.open_udp_ports[1]: ports are from 1 to 65535',
        '9 firewall.open_udp_ports[2]: expected a port or a range such as "10000-20000", got "rtp"',
      ],
    );
  });

  it('names the line and field of a bad guard setting', () => {
    const err = loadError(yaml(MINIMAL, 'guards:', '  flood: { window: fast }', '  chain: [bans, nope]'));
    assert.deepEqual(
      err.issues.map((i) => `${i.line} ${i.path}: ${i.message}`),
      [
        '6 guards.flood.window: "fast" is not a duration (e.g. 500ms, 2s, 5m, 1h, 1d, or a number of seconds)',
        '7 guards.chain[1]: must be one of acl, bans, flood, sanity, scanner, auth, brute_force, dial_scan, fraud, got "nope"',
      ],
    );
  });
});

describe('loadConfigFromString: a valid configuration', () => {
  it('normalises every section of a full file', () => {
    const {
      guards: _guards,
      honeypot: _honeypot,
      store: _store,
      firewall: _firewall,
      topology: _topology,
      admin: _admin,
      alerts: _alerts,
      ...config
    } = load(FULL, {}, { env: { SIPWARDEN_SECRET: SECRET } });
    assert.deepEqual(config, {
      listen: [
        {
          transport: 'udp',
          host: '0.0.0.0',
          port: 5060,
          family: 4,
          url: 'udp://0.0.0.0:5060',
          cert: undefined,
          key: undefined,
          advertise: undefined,
        },
        {
          transport: 'tcp',
          host: '::',
          port: 5060,
          family: 6,
          url: 'tcp://[::]:5060',
          cert: undefined,
          key: undefined,
          advertise: undefined,
        },
        {
          transport: 'tls',
          host: '0.0.0.0',
          port: 5061,
          family: 4,
          url: 'tls://0.0.0.0:5061',
          cert: join(dir, 'cert.pem'),
          key: join(dir, 'key.pem'),
          advertise: { host: 'sip.example.com', port: 5061, family: 0, hostport: 'sip.example.com:5061' },
        },
      ],
      upstreams: [
        {
          name: 'pbx',
          targets: [
            { transport: 'udp', host: '10.0.0.10', port: 5060, family: 4, url: 'udp://10.0.0.10:5060' },
            { transport: 'tcp', host: '10.0.0.11', port: 5060, family: 4, url: 'tcp://10.0.0.11:5060' },
          ],
          ping: { interval: 10_000, timeout: 2_000, failures: 3 },
          tls: { verify: true, ca: undefined, serverName: undefined },
        },
        {
          name: 'trunk',
          targets: [
            {
              transport: 'tls',
              host: 'sip.carrier.example',
              port: 5061,
              family: 0,
              url: 'tls://sip.carrier.example:5061',
            },
            { transport: 'udp', host: '2001:db8::20', port: 5080, family: 6, url: 'udp://[2001:db8::20]:5080' },
          ],
          ping: false,
          tls: { verify: true, ca: undefined, serverName: undefined },
        },
      ],
      defaultUpstream: 'pbx',
      trusted: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7'],
      sources: { ipv4Prefix: 32, ipv6Prefix: 64 },
      limits: { maxMessageBytes: 65535, maxHeaders: 100, maxHeaderBytes: 4096, maxListEntries: 64 },
      tcp: {
        idleTimeout: 300_000,
        connectTimeout: 500,
        maxConnections: 2000,
        maxConnectionsPerIp: 16,
        upstreamReserve: 32,
        tlsHandshakeTimeout: 5_000,
        maxPendingOutput: 1_048_576,
        pongsPerSecond: 2,
      },
      replies: { badRequestPerSecond: 20 },
      secret: SECRET,
      dataDir: '/var/lib/sipwarden',
      log: { level: 'debug', file: undefined },
    });
  });

  it('fills in every default', () => {
    const config = load(MINIMAL);
    assert.deepEqual(config.upstreams[0]!.ping, { interval: 10_000, timeout: 2_000, failures: 3 });
    assert.equal(config.defaultUpstream, 'pbx');
    assert.deepEqual(config.trusted, []);
    assert.deepEqual(config.limits, {
      maxMessageBytes: 65535,
      maxHeaders: 128,
      maxHeaderBytes: 8192,
      maxListEntries: 64,
    });
    assert.deepEqual(config.tcp, {
      idleTimeout: 600_000,
      connectTimeout: 5_000,
      maxConnections: 10_000,
      maxConnectionsPerIp: 32,
      upstreamReserve: 32,
      tlsHandshakeTimeout: 5_000,
      maxPendingOutput: 1_048_576,
      pongsPerSecond: 2,
    });
    assert.deepEqual(config.replies, { badRequestPerSecond: 50 });
    assert.equal(config.secret, undefined);
    assert.equal(config.dataDir, join(dir, 'data'));
    assert.deepEqual(config.log, { level: 'info', file: undefined });
    assert.deepEqual(config.guards.chain, [
      'acl',
      'bans',
      'flood',
      'scanner',
      'sanity',
      'brute_force',
      'dial_scan',
      'fraud',
    ]);
    assert.deepEqual(config.guards.flood, {
      mode: 'enforce',
      window: 2_000,
      maxMessages: 100,
      ban: 300_000,
      maxSources: 100_000,
    });
    assert.deepEqual(config.sources, { ipv4Prefix: 32, ipv6Prefix: 64 });
    assert.deepEqual(config.guards.neverBan, []);
    assert.deepEqual(config.guards.scanner.signals.ip_literal_host, { action: 'score', points: 3 });
    assert.ok(config.guards.scanner.userAgents.includes('friendly-scanner'));
    assert.deepEqual(config.store, { type: 'sqlite', path: join(dir, 'data', 'sipwarden.db') });
    assert.equal(config.firewall.sync, false);
  });

  it('returns a deeply frozen object', () => {
    const config = load(FULL, {}, { env: { SIPWARDEN_SECRET: SECRET } });
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.listen));
    assert.ok(Object.isFrozen(config.listen[2]!.advertise));
    assert.ok(Object.isFrozen(config.upstreams[0]!.targets[0]));
    assert.ok(Object.isFrozen(config.tcp));
    assert.throws(() => {
      (config.tcp as { idleTimeout: number }).idleTimeout = 1;
    }, TypeError);
  });

  it('treats an empty value as "not set"', () => {
    const config = load(yaml(MINIMAL, 'tcp:', 'log:', 'trusted:'));
    assert.equal(config.tcp.maxConnections, 10_000);
    assert.equal(config.log.level, 'info');
  });

  it('keeps the upstream reserve below max_connections and pending output above a message', () => {
    assert.equal(load(yaml(MINIMAL, 'tcp: { max_connections: 20, max_connections_per_ip: 4 }')).tcp.upstreamReserve, 5);
    assert.equal(
      load(yaml(MINIMAL, 'tcp: { max_connections: 20, max_connections_per_ip: 4, upstream_reserve: 0 }')).tcp
        .upstreamReserve,
      0,
    );
    const tcp = load(
      yaml(MINIMAL, 'tcp: { tls_handshake_timeout: 2s, max_pending_output: 200000, pongs_per_second: 0 }'),
    ).tcp;
    assert.deepEqual([tcp.tlsHandshakeTimeout, tcp.maxPendingOutput, tcp.pongsPerSecond], [2000, 200_000, 0]);
    const err = loadError(
      yaml(
        MINIMAL,
        'tcp: { max_connections: 20, max_connections_per_ip: 4, upstream_reserve: 20, max_pending_output: 65536 }',
        'limits:',
        '  max_message_bytes: 100000',
      ),
    );
    assert.deepEqual(
      err.issues.map((i) => `${i.path}: ${i.message}`),
      [
        'tcp.upstream_reserve: must be smaller than max_connections (20)',
        'tcp.max_pending_output: must not be smaller than limits.max_message_bytes (100000)',
      ],
    );
  });

  it('accepts every duration form and a number of seconds', () => {
    const config = load(
      yaml(
        'listen: [udp://0.0.0.0:5060]',
        'upstreams:',
        '  - { name: a, targets: [udp://10.0.0.1], ping: { interval: 1.5s, timeout: 250ms } }',
        '  - { name: b, targets: [udp://10.0.0.2], ping: { interval: 30, timeout: 0.5 } }',
        '  - { name: c, targets: [udp://10.0.0.3], ping: true }',
        'tcp: { idle_timeout: 1h, connect_timeout: "2" }',
      ),
    );
    assert.deepEqual(config.upstreams[0]!.ping, { interval: 1500, timeout: 250, failures: 3 });
    assert.deepEqual(config.upstreams[1]!.ping, { interval: 30_000, timeout: 500, failures: 3 });
    assert.deepEqual(config.upstreams[2]!.ping, { interval: 10_000, timeout: 2_000, failures: 3 });
    assert.equal(config.tcp.idleTimeout, 3_600_000);
    assert.equal(config.tcp.connectTimeout, 2_000);
  });

  it('takes IPv6 listen addresses, targets and trusted networks', () => {
    const config = load(
      yaml(
        'listen:',
        '  - udp://[::]:5060',
        '  - url: tcp://[2001:DB8:0:0::1]',
        '    advertise: "[2001:db8::1]:5070"',
        'upstreams:',
        '  - name: pbx',
        '    targets:',
        '      - udp://[fd00::10]:5060',
        '      - tcp://[::ffff:10.0.0.1]',
        'trusted: ["fd00::/8", "::ffff:10.1.0.0/112"]',
      ),
    );
    assert.equal(config.listen[0]!.url, 'udp://[::]:5060');
    assert.equal(config.listen[1]!.host, '2001:db8::1');
    assert.equal(config.listen[1]!.url, 'tcp://[2001:db8::1]:5060');
    assert.deepEqual(config.listen[1]!.advertise, {
      host: '2001:db8::1',
      port: 5070,
      family: 6,
      hostport: '[2001:db8::1]:5070',
    });
    assert.deepEqual(config.upstreams[0]!.targets[0], {
      transport: 'udp',
      host: 'fd00::10',
      port: 5060,
      family: 6,
      url: 'udp://[fd00::10]:5060',
    });
    assert.equal(config.upstreams[0]!.targets[1]!.url, 'tcp://[::ffff:10.0.0.1]:5060');
    assert.deepEqual(config.trusted, ['fd00::/8', '10.1.0.0/16']);
  });

  it('lets the system choose a port with port 0 on listen addresses only', () => {
    assert.equal(load(MINIMAL, { listen: ['udp://127.0.0.1:0'] }).listen[0]!.port, 0);
    const err = loadError(MINIMAL, { upstream: ['udp://127.0.0.1:0'] });
    assert.equal(err.message, 'command line: --upstream: "udp://127.0.0.1:0": port must be from 1 to 65535');
  });
});

describe('loadConfigFromString: errors name file, line and field', () => {
  const cases: { name: string; text: string; env?: Record<string, string>; message: string; line: number }[] = [
    {
      name: 'a bad endpoint URL',
      text: FULL.replace('tcp://10.0.0.11:5060', 'udpx://1.2.3.4'),
      env: { SIPWARDEN_SECRET: SECRET },
      line: 10,
      message:
        'sipwarden.yaml:10: upstreams[0].targets[1]: "udpx://1.2.3.4" is not a SIP endpoint URL (udp://, tcp://, tls://)',
    },
    {
      name: 'an unknown top-level key, with a suggestion',
      text: yaml(MINIMAL, 'trustd: [10.0.0.0/8]'),
      line: 5,
      message: 'sipwarden.yaml:5: trustd: unknown key; did you mean "trusted"?',
    },
    {
      name: 'an unknown nested key',
      text: FULL.replace('failures: 3', 'retries: 3'),
      env: { SIPWARDEN_SECRET: SECRET },
      line: 11,
      message: 'sipwarden.yaml:11: upstreams[0].ping.retries: unknown key (known here: interval, timeout, failures)',
    },
    {
      name: 'an unknown key in a listen object',
      text: FULL.replace('    key: key.pem', '    keyfile: key.pem'),
      env: { SIPWARDEN_SECRET: SECRET },
      line: 6,
      message: 'sipwarden.yaml:6: listen[2].keyfile: unknown key; did you mean "key"?',
    },
    {
      name: 'a bad duration',
      text: FULL.replace('idle_timeout: 5m', 'idle_timeout: 5 minutes'),
      env: { SIPWARDEN_SECRET: SECRET },
      line: 20,
      message:
        'sipwarden.yaml:20: tcp.idle_timeout: "5 minutes" is not a duration (e.g. 500ms, 2s, 5m, 1h, 1d, or a number of seconds)',
    },
    {
      name: 'a duration beyond what timers can do',
      text: yaml(MINIMAL, 'tcp:', '  idle_timeout: 30d'),
      line: 6,
      message: 'sipwarden.yaml:6: tcp.idle_timeout: must be at most 24d',
    },
    {
      name: 'a missing certificate file',
      text: FULL.replace('cert: cert.pem', 'cert: missing.pem'),
      env: { SIPWARDEN_SECRET: SECRET },
      line: 5,
      message: `sipwarden.yaml:5: listen[2].cert: cannot read ${JSON.stringify(join(dir, 'missing.pem'))}: no such file`,
    },
    {
      name: 'duplicate upstream names',
      text: FULL.replace('name: trunk', 'name: pbx'),
      env: { SIPWARDEN_SECRET: SECRET },
      line: 12,
      message: 'sipwarden.yaml:12: upstreams[1].name: duplicate upstream name "pbx" (first at line 9)',
    },
    {
      name: 'default_upstream naming a missing upstream',
      text: FULL.replace('default_upstream: pbx', 'default_upstream: pbxx'),
      env: { SIPWARDEN_SECRET: SECRET },
      line: 17,
      message: 'sipwarden.yaml:17: default_upstream: no upstream is named "pbxx" (upstreams: "pbx", "trunk")',
    },
    {
      name: 'a missing environment variable',
      text: FULL,
      line: 22,
      message:
        'sipwarden.yaml:22: secret: environment variable SIPWARDEN_SECRET is not set (write ${SIPWARDEN_SECRET:-default} to give a default)',
    },
    {
      name: 'a YAML syntax error',
      text: yaml('listen: [udp://0.0.0.0:5060]', 'upstreams:', '  - name: pbx', '   targets: [udp://10.0.0.10]'),
      line: 4,
      message: 'sipwarden.yaml:4: YAML syntax: Sequence item without - indicator',
    },
    {
      name: 'an unquoted IPv6 URL inside a flow list',
      text: yaml('listen: [udp://[::1]:5060]', 'upstreams: [{ name: pbx, targets: [udp://10.0.0.10] }]'),
      line: 1,
      message:
        'sipwarden.yaml:1: YAML syntax: Missing , or : between flow sequence items (inside [...] or {...}, quote IPv6 URLs: "udp://[2001:db8::1]:5060")',
    },
    {
      name: 'a duplicate key',
      text: yaml(MINIMAL, 'listen: [udp://0.0.0.0:5062]'),
      line: 5,
      message: 'sipwarden.yaml:5: YAML syntax: Map keys must be unique',
    },
    {
      name: 'a missing required key',
      text: yaml('listen: [udp://0.0.0.0:5060]', 'upstreams:', '  - name: pbx', '    ping: false'),
      line: 3,
      message: 'sipwarden.yaml:3: upstreams[0].targets: required',
    },
    {
      name: 'a wrong type',
      text: yaml(MINIMAL, 'limits:', '  max_headers: [1]'),
      line: 6,
      message: 'sipwarden.yaml:6: limits.max_headers: expected a whole number, got a list',
    },
    {
      name: 'a number out of range',
      text: yaml(MINIMAL, 'limits:', '  max_headers: 2'),
      line: 6,
      message: 'sipwarden.yaml:6: limits.max_headers: must be from 8 to 4096, got 2',
    },
    {
      name: 'a string where a list belongs',
      text: yaml('listen: udp://0.0.0.0:5060', 'upstreams: [{ name: pbx, targets: [udp://10.0.0.10] }]'),
      line: 1,
      message: 'sipwarden.yaml:1: listen: expected a list, got "udp://0.0.0.0:5060"',
    },
    {
      name: 'ping that is neither a boolean nor a mapping',
      text: yaml(MINIMAL, '    ping: off'),
      line: 5,
      message: 'sipwarden.yaml:5: upstreams[0].ping: expected true or false or a mapping, got "off"',
    },
    {
      name: 'a hostname as a listen address',
      text: yaml('listen: [udp://sip.example.com]', 'upstreams: [{ name: pbx, targets: [udp://10.0.0.10] }]'),
      line: 1,
      message: 'sipwarden.yaml:1: listen[0]: "udp://sip.example.com": must be an IP address, not a hostname',
    },
    {
      name: 'a tls:// listen address without certificate',
      text: yaml('listen:', '  - tls://0.0.0.0:5061', 'upstreams: [{ name: pbx, targets: [udp://10.0.0.10] }]'),
      line: 2,
      message:
        'sipwarden.yaml:2: listen[0]: tls://0.0.0.0:5061 needs a certificate and key: write { url: tls://0.0.0.0:5061, cert: FILE, key: FILE }',
    },
    {
      name: 'a certificate on a udp:// address',
      text: yaml(
        'listen:',
        '  - url: udp://0.0.0.0',
        '    cert: cert.pem',
        'upstreams: [{ name: pbx, targets: [udp://10.0.0.10] }]',
      ),
      line: 3,
      message: 'sipwarden.yaml:3: listen[0].cert: only used with tls:// addresses',
    },
    {
      name: 'tcp and tls on the same port',
      text: yaml(
        'listen:',
        '  - tcp://0.0.0.0:5061',
        '  - { url: "tls://0.0.0.0:5061", cert: cert.pem, key: key.pem }',
        'upstreams: [{ name: pbx, targets: [udp://10.0.0.10] }]',
      ),
      line: 3,
      message:
        'sipwarden.yaml:3: listen[1]: tls://0.0.0.0:5061 and tcp://0.0.0.0:5061 (line 2) would both use TCP port 5061 on 0.0.0.0',
    },
    {
      name: 'a listen address given twice',
      text: yaml(
        'listen:',
        '  - udp://0.0.0.0:5060',
        '  - udp://0.0.0.0',
        'upstreams: [{ name: pbx, targets: [udp://10.0.0.10] }]',
      ),
      line: 3,
      message: 'sipwarden.yaml:3: listen[1]: udp://0.0.0.0:5060 is listed twice (line 2)',
    },
    {
      name: 'a ping timeout longer than the interval',
      text: yaml(MINIMAL, '    ping:', '      interval: 1s', '      timeout: 2s'),
      line: 7,
      message: 'sipwarden.yaml:7: upstreams[0].ping.timeout: must not be longer than interval (1000 ms)',
    },
    {
      name: 'host bits in a trusted network',
      text: yaml(MINIMAL, 'trusted:', '  - 10.0.0.1/8'),
      line: 6,
      message: 'sipwarden.yaml:6: trusted[0]: "10.0.0.1/8" has host bits set; the network is 10.0.0.0/8',
    },
    {
      name: 'the flood prefix at its old place (moved to sources)',
      text: yaml(MINIMAL, 'guards:', '  flood: { window: 2s, ipv6_prefix: 56 }'),
      line: 6,
      message:
        'sipwarden.yaml:6: guards.flood.ipv6_prefix: moved to sources.ipv6_prefix, one setting for every guard, ban and per-source limit: write "sources: { ipv6_prefix: 56 }"',
    },
    {
      name: 'an IPv6 source prefix out of range',
      text: yaml(MINIMAL, 'sources:', '  ipv6_prefix: 8'),
      line: 6,
      message: 'sipwarden.yaml:6: sources.ipv6_prefix: must be from 16 to 128, got 8',
    },
    {
      name: 'host bits in a never_ban network',
      text: yaml(MINIMAL, 'guards:', '  never_ban: [192.0.2.0/24, 198.51.100.7/24]'),
      line: 6,
      message:
        'sipwarden.yaml:6: guards.never_ban[1]: "198.51.100.7/24" has host bits set; the network is 198.51.100.0/24',
    },
    {
      name: 'an unknown log level',
      text: yaml(MINIMAL, 'log: { level: verbose }'),
      line: 5,
      message: 'sipwarden.yaml:5: log.level: must be one of trace, debug, info, warn, error, fatal, got "verbose"',
    },
    {
      name: 'an empty file',
      text: '',
      line: 0,
      message:
        'sipwarden.yaml: listen: required (or give --listen)\nsipwarden.yaml: upstreams: required (or give --upstream)',
    },
    {
      name: 'a list at the top level',
      text: yaml('- listen'),
      line: 1,
      message: 'sipwarden.yaml:1: expected a mapping of settings at the top level, got a list',
    },
    {
      name: 'two documents',
      text: yaml(MINIMAL, '---', 'log: { level: info }'),
      line: 5,
      message: 'sipwarden.yaml:5: YAML: a config file holds one document (remove the second "---")',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const err = loadError(c.text, {}, c.env ? { env: c.env } : {});
      assert.equal(err.message, c.message);
      assert.equal(err.line ?? 0, c.line);
      assert.equal(err.file, 'sipwarden.yaml');
    });
  }

  it('reports all schema problems at once, in line order, with their paths', () => {
    const err = loadError(
      yaml(
        'listen:', //                      1
        '  - udp://0.0.0.0:99999', //      2
        'upstreams:', //                   3
        '  - name: pbx', //                4
        '    targets: [udp://10.0.0.1]', // 5
        '    ping: { interval: soon }', // 6
        'tcp: { max_conections: 1 }', //   7
      ),
    );
    assert.deepEqual(
      err.issues.map((i) => [i.line, i.path]),
      [
        [2, 'listen[0]'],
        [6, 'upstreams[0].ping.interval'],
        [7, 'tcp.max_conections'],
      ],
    );
    assert.equal(err.path, 'listen[0]');
    assert.equal(err.message.split('\n').length, 3);
  });

  it('never quotes the secret in an error', () => {
    const err = loadError(yaml(MINIMAL, 'secret: hunter2-hunter2'));
    assert.equal(err.message, 'sipwarden.yaml:5: secret: must be at least 32 characters long (got 15)');
    const err2 = loadError(yaml(MINIMAL, 'secret: 1234567890123456789012345678901234567'));
    assert.equal(err2.message, 'sipwarden.yaml:5: secret: expected a string, got number');
  });

  it('locates values reached through an alias', () => {
    const err = loadError(
      yaml(
        'listen: [udp://0.0.0.0:5060]',
        'upstreams:',
        '  - name: pbx',
        '    targets: [udp://10.0.0.1]',
        '    ping: &p { interval: 5s, timeout: 10s }',
        '  - name: b',
        '    targets: [udp://10.0.0.2]',
        '    ping: *p',
      ),
    );
    assert.deepEqual(
      err.issues.map((i) => `${i.line} ${i.path}`),
      ['5 upstreams[0].ping.timeout', '5 upstreams[1].ping.timeout'],
    );
  });
});

describe('environment substitution', () => {
  const text = (value: string) => yaml(MINIMAL, value);

  it('uses a default when the variable is unset or empty', () => {
    const level = 'log: { level: "${SIPWARDEN_LEVEL:-warn}" }';
    assert.equal(load(text(level)).log.level, 'warn');
    assert.equal(load(text(level), {}, { env: { SIPWARDEN_LEVEL: '' } }).log.level, 'warn');
    assert.equal(load(text(level), {}, { env: { SIPWARDEN_LEVEL: 'error' } }).log.level, 'error');
  });

  it('substitutes inside longer strings and in list items', () => {
    const config = load(
      yaml(
        'listen: [udp://0.0.0.0:5060]',
        'upstreams:',
        '  - name: pbx',
        '    targets:',
        '      - udp://${SIPWARDEN_PBX_HOST}:${SIPWARDEN_PBX_PORT:-5070}',
      ),
      {},
      { env: { SIPWARDEN_PBX_HOST: '10.9.9.9' } },
    );
    assert.equal(config.upstreams[0]!.targets[0]!.url, 'udp://10.9.9.9:5070');
  });

  it('types a substituted plain scalar as YAML would, and keeps a quoted one a string', () => {
    const env = { SIPWARDEN_MAX: '64', SIPWARDEN_PING: 'false' };
    const config = load(
      yaml(MINIMAL, '    ping: ${SIPWARDEN_PING}', 'limits:', '  max_headers: ${SIPWARDEN_MAX}'),
      {},
      {
        env,
      },
    );
    assert.equal(config.upstreams[0]!.ping, false);
    assert.equal(config.limits.maxHeaders, 64);
    const err = loadError(yaml(MINIMAL, '    ping: "${SIPWARDEN_PING}"'), {}, { env });
    assert.match(err.message, /upstreams\[0\]\.ping: expected true or false or a mapping, got "\$\{SIPWARDEN_PING\}"$/);
  });

  it('treats an empty secret as not set', () => {
    assert.equal(load(text('secret: ${SIPWARDEN_SECRET:-}')).secret, undefined);
    assert.equal(load(text('secret: ${SIPWARDEN_SECRET:-}'), {}, { env: { SIPWARDEN_SECRET: SECRET } }).secret, SECRET);
  });

  it('keeps $${ as a literal ${ and a lone $ as it is', () => {
    const config = load(text('secret: "$${NOT_A_VAR}-$5-0123456789abcdef0123456789"'));
    assert.equal(config.secret, '${NOT_A_VAR}-$5-0123456789abcdef0123456789');
  });

  it('reports malformed references with their line', () => {
    const err = loadError(text('secret: "${UNCLOSED"'));
    assert.equal(err.message, 'sipwarden.yaml:5: secret: unterminated "${" (write "$${" for a literal "${")');
    const err2 = loadError(text('secret: "${NOT-A-NAME}"'));
    assert.equal(
      err2.message,
      'sipwarden.yaml:5: secret: "${NOT-A-NAME}" is not a variable reference (${NAME} or ${NAME:-default})',
    );
  });

  it('substitutes only variables named SIPWARDEN_...', () => {
    const env = { HOME: 'operator-home', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI-K7MDENG', SIPWARDEN_LEVEL: 'warn' };
    const err = loadError(text('log: { level: "${AWS_SECRET_ACCESS_KEY}" }'), {}, { env });
    assert.equal(
      err.message,
      'sipwarden.yaml:5: log.level: ${AWS_SECRET_ACCESS_KEY}: only environment variables named SIPWARDEN_... are ' +
        'substituted (export it as SIPWARDEN_AWS_SECRET_ACCESS_KEY)',
    );
    // Not even with a default.
    assert.match(
      loadError(text('log: { level: "${HOME:-info}" }'), {}, { env }).message,
      /only environment variables named SIPWARDEN_/,
    );
    assert.equal(load(text('log: { level: "${SIPWARDEN_LEVEL}" }'), {}, { env }).log.level, 'warn');
  });

  it('takes no substitution in fields sent on the wire as written', () => {
    const env = { SIPWARDEN_SECRET: SECRET, SIPWARDEN_TEXT: 'Asterisk' };
    for (const [line, path] of [
      ['guards: { reply: { reason: "${SIPWARDEN_SECRET}" } }', 'guards.reply.reason'],
      ['honeypot: { server: "${SIPWARDEN_TEXT}" }', 'honeypot.server'],
      ['honeypot: { realm: "x${SIPWARDEN_TEXT}" }', 'honeypot.realm'],
      ['guards: { auth: { realm: "${SIPWARDEN_TEXT}" } }', 'guards.auth.realm'],
      ['guards: { auth: { realms: { example.com: "${SIPWARDEN_TEXT}" } } }', 'guards.auth.realms.example.com'],
      ['topology: { out: { server: { replace: "${SIPWARDEN_TEXT}" } } }', 'topology.out.server.replace'],
      ['topology: { in: { user_agent: { replace: "${SIPWARDEN_TEXT}" } } }', 'topology.in.user_agent.replace'],
    ] as const) {
      const err = loadError(text(line), {}, { env });
      assert.equal(
        err.message,
        `sipwarden.yaml:5: ${path}: takes no \${...} substitution: its text goes out on the wire as written`,
      );
    }
    // A literal "${" is still written "$${".
    assert.equal(load(text('guards: { reply: { code: 403, reason: "Nope $${X}" } }')).guards.reply.reason, 'Nope ${X}');
  });

  it('never shows a value from the environment in an error', () => {
    const secret = 'TOPSECRET-0123456789abcdef';
    const env = { SIPWARDEN_UPSTREAM: secret, SIPWARDEN_PORT: '7', SIPWARDEN_LONG: `${secret}${'x'.repeat(90)}` };
    const cases: Array<[string, RegExp]> = [
      ['default_upstream: ${SIPWARDEN_UPSTREAM}', /default_upstream: no upstream is named "\$\{SIPWARDEN_UPSTREAM\}"/],
      ['log: { level: "debug-${SIPWARDEN_UPSTREAM}" }', /log\.level: .*"debug-\$\{SIPWARDEN_UPSTREAM\}"/],
      ['default_upstream: "${SIPWARDEN_LONG}"', /no upstream is named "\$\{SIPWARDEN_LONG\}…"/],
      ['limits: { max_headers: "${SIPWARDEN_PORT}" }', /limits\.max_headers: .*\$\{SIPWARDEN_PORT\}/],
    ];
    for (const [line, shown] of cases) {
      const err = loadError(text(line), {}, { env });
      assert.match(err.message, shown);
      assert.doesNotMatch(err.message, /TOPSECRET|0123456789abcdef|xxx/, err.message);
      for (const issue of err.issues) assert.doesNotMatch(issue.message, /TOPSECRET/);
    }
    // An upstream name taken from the environment is not listed in another field's error either.
    const err = loadError(
      yaml(
        'listen: [udp://0.0.0.0:5060]',
        'upstreams:',
        '  - name: "${SIPWARDEN_UPSTREAM}"',
        '    targets: [udp://10.0.0.10:5060]',
        'default_upstream: nope',
      ),
      {},
      { env },
    );
    assert.equal(
      err.message,
      'sipwarden.yaml:5: default_upstream: no upstream is named "nope" (upstreams: "${SIPWARDEN_UPSTREAM}")',
    );
  });

  it('does not substitute in keys or comments', () => {
    assert.equal(load(text('# ${SIPWARDEN_MISSING}\nlog: { level: info } # ${SIPWARDEN_MISSING}')).log.level, 'info');
  });
});

describe('command-line overrides', () => {
  it('make a valid configuration without a file', () => {
    const config = loadConfig({
      overrides: { listen: ['udp://127.0.0.1:5060'], upstream: ['udp://127.0.0.1:5070'] },
      env: {},
      cwd: dir,
    });
    assert.deepEqual(
      config.listen.map((l) => l.url),
      ['udp://127.0.0.1:5060'],
    );
    assert.deepEqual(config.upstreams, [
      {
        name: 'default',
        targets: [{ transport: 'udp', host: '127.0.0.1', port: 5070, family: 4, url: 'udp://127.0.0.1:5070' }],
        ping: { interval: 10_000, timeout: 2_000, failures: 3 },
        tls: { verify: true, ca: undefined, serverName: undefined },
      },
    ]);
    assert.equal(config.defaultUpstream, 'default');
    assert.equal(config.dataDir, join(dir, 'data'));
  });

  it('say what is missing when there is no file', () => {
    assert.throws(
      () => loadConfig({ overrides: { listen: ['udp://127.0.0.1:5060'] }, env: {} }),
      (err: unknown) =>
        err instanceof ConfigError && err.message === 'upstreams: required: give --upstream or a config file',
    );
  });

  it('replace the values of the file', () => {
    const config = load(
      FULL,
      { listen: ['tcp://[::1]:5080'], upstream: ['udp://[::1]:5090', 'tcp://pbx'], logLevel: 'warn' },
      {
        env: { SIPWARDEN_SECRET: SECRET },
      },
    );
    assert.deepEqual(
      config.listen.map((l) => l.url),
      ['tcp://[::1]:5080'],
    );
    assert.equal(config.upstreams.length, 1);
    assert.deepEqual(
      config.upstreams[0]!.targets.map((t) => t.url),
      ['udp://[::1]:5090', 'tcp://pbx:5060'],
    );
    assert.equal(config.defaultUpstream, 'default');
    assert.equal(config.log.level, 'warn');
    assert.equal(config.tcp.maxConnections, 2000); // untouched sections stay
  });

  it('--upstream replaces an upstream list whose default_upstream would dangle', () => {
    const config = load(
      FULL.replace('default_upstream: pbx', 'default_upstream: trunk'),
      { upstream: ['udp://10.1.1.1'] },
      {
        env: { SIPWARDEN_SECRET: SECRET },
      },
    );
    assert.equal(config.defaultUpstream, 'default');
  });

  it('--tls-cert and --tls-key apply to tls:// --listen addresses', () => {
    const config = load(MINIMAL, {
      listen: ['udp://0.0.0.0:5060', 'tls://0.0.0.0:5061'],
      tlsCert: 'cert.pem',
      tlsKey: join(dir, 'key.pem'),
    });
    assert.equal(config.listen[0]!.cert, undefined);
    assert.equal(config.listen[1]!.cert, join(dir, 'cert.pem'));
    assert.equal(config.listen[1]!.key, join(dir, 'key.pem'));
  });

  it('name the flag in errors', () => {
    assert.equal(
      loadError(MINIMAL, { listen: ['udpx://1.2.3.4'] }).message,
      'command line: --listen: "udpx://1.2.3.4" is not a SIP endpoint URL (udp://, tcp://, tls://)',
    );
    assert.equal(
      loadError(MINIMAL, { listen: ['tls://0.0.0.0:5061'], tlsCert: 'cert.pem' }).message,
      'command line: --tls-key: required for tls://0.0.0.0:5061',
    );
    assert.equal(
      loadError(MINIMAL, { listen: ['tls://0.0.0.0:5061'], tlsCert: 'nope.pem', tlsKey: 'key.pem' }).message,
      `command line: --tls-cert: cannot read ${JSON.stringify(join(dir, 'nope.pem'))}: no such file`,
    );
    assert.equal(
      loadError(MINIMAL, { tlsCert: 'cert.pem' }).message,
      'command line: --tls-cert: applies to tls:// addresses given by --listen, and there is none',
    );
    assert.equal(
      loadError(MINIMAL, { logLevel: 'loud' }).message,
      'command line: --log-level: must be one of trace, debug, info, warn, error, fatal, got "loud"',
    );
  });
});

describe('loadConfig from a file', () => {
  it('resolves relative paths in the file against its directory', () => {
    const sub = join(dir, 'etc');
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, 'c.pem'), 'CERT');
    writeFileSync(join(sub, 'k.pem'), 'KEY');
    const file = join(sub, 'sipwarden.yaml');
    writeFileSync(
      file,
      yaml(
        'listen:',
        '  - { url: "tls://127.0.0.1:5061", cert: c.pem, key: ./k.pem }',
        'upstreams: [{ name: p, targets: [udp://10.0.0.1] }]',
        'data_dir: state',
      ),
    );
    const config = loadConfig({ file, env: {} });
    assert.equal(config.listen[0]!.cert, join(sub, 'c.pem'));
    assert.equal(config.listen[0]!.key, join(sub, 'k.pem'));
    assert.equal(config.dataDir, join(sub, 'state'));
  });

  it('names the file when it cannot be read', () => {
    const file = join(dir, 'absent.yaml');
    assert.throws(
      () => loadConfig({ file }),
      (err: unknown) => err instanceof ConfigError && err.message === `${file}: cannot read the file: no such file`,
    );
    assert.throws(
      () => loadConfig({ file: dir }),
      (err: unknown) => err instanceof ConfigError && err.message === `${dir}: cannot read the file: is a directory`,
    );
  });

  it('names the file as given in messages', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, yaml(MINIMAL, 'limits: { max_headers: many }'));
    assert.throws(
      () => loadConfig({ file }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.message === `${file}:5: limits.max_headers: expected a whole number, got "many"`,
    );
  });
});

describe('robustness', () => {
  it('throws nothing but ConfigError for mutilated input', () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const pieces = [
      '[',
      ']',
      '{',
      '}',
      ':',
      ',',
      '- ',
      ' ',
      '\n',
      '"',
      "'",
      '&a ',
      '*a',
      '!',
      '#',
      '${',
      '\t',
      '|',
      '? ',
      '%',
      '\0',
    ];
    const base = FULL.replace('${SIPWARDEN_SECRET}', '${S:-0123456789abcdef0123456789abcdef}');
    for (let i = 0; i < 1000; i++) {
      let text = base;
      for (let k = 1 + rnd(4); k > 0; k--) {
        const at = rnd(text.length);
        const op = rnd(3);
        if (op === 0) text = text.slice(0, at) + text.slice(at + 1 + rnd(6));
        else if (op === 1) text = text.slice(0, at) + pieces[rnd(pieces.length)] + text.slice(at);
        else {
          const from = rnd(text.length);
          text = text.slice(0, at) + text.slice(from, from + rnd(24)) + text.slice(at);
        }
      }
      try {
        load(text);
      } catch (err) {
        if (!(err instanceof ConfigError) || err.message.includes('internal error')) {
          assert.fail(`${String(err)} for ${JSON.stringify(text)}`);
        }
      }
    }
  });

  it('refuses alias bombs', () => {
    const bomb = yaml(
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
    );
    assert.match(loadError(bomb).message, /^sipwarden\.yaml: YAML: /);
  });

  it('does not let __proto__ keys through', () => {
    const err = loadError(yaml(MINIMAL, '__proto__: { polluted: 1 }'));
    assert.match(err.message, /^sipwarden\.yaml:5: __proto__: unknown key/);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe('ensureSecret', () => {
  it('returns the configured secret', () => {
    assert.equal(ensureSecret({ secret: SECRET, dataDir: join(dir, 'unused') }), SECRET);
  });

  it('creates one in <data_dir>/secret with mode 0600 and keeps it', () => {
    const dataDir = join(dir, 'state', 'data');
    const first = ensureSecret({ secret: undefined, dataDir });
    assert.ok(first.length >= 32);
    assert.equal(statSync(join(dataDir, 'secret')).mode & 0o777, 0o600);
    assert.equal(ensureSecret({ secret: undefined, dataDir }), first);
  });

  it('refuses a file that others can read, or a short one', () => {
    const dataDir = join(dir, 'loose');
    mkdirSync(dataDir, { recursive: true });
    const file = join(dataDir, 'secret');
    writeFileSync(file, `${SECRET}\n`, { mode: 0o644 });
    chmodSync(file, 0o644);
    assert.throws(
      () => ensureSecret({ secret: undefined, dataDir }),
      (err: unknown) =>
        err instanceof ConfigError && err.message === `${file}: must not be accessible by group or others (chmod 600)`,
    );
    writeFileSync(file, 'short\n');
    chmodSync(file, 0o600);
    assert.throws(() => ensureSecret({ secret: undefined, dataDir }), /must hold at least 32 characters/);
  });
});

describe('buildTrustedSet', () => {
  it('holds the trusted networks and the IP upstream targets', () => {
    const set = buildTrustedSet(load(FULL, {}, { env: { SIPWARDEN_SECRET: SECRET } }));
    assert.ok(set.has('10.200.1.1'));
    assert.ok(set.has('2001:db8:ffff::1'));
    assert.ok(set.has('192.0.2.7'));
    assert.ok(!set.has('192.0.2.8'));
    assert.ok(set.has('::ffff:10.0.0.10'));
    assert.ok(!set.has('203.0.113.5'));
  });
});
