import assert from 'node:assert/strict';
import { closeSync, cpSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { SecurityEvent } from '../../src/core/events.js';
import type { Source } from '../../src/core/verdict.js';
import { banMessage } from '../../src/log/ban-line.js';
import { createLogger, type Logger } from '../../src/log/logger.js';
import { PROJECT_ROOT } from '../helpers/corpus.js';
import { haveCommands, run } from '../helpers/netns.js';

/**
 * The fail2ban kit against the real tools: log lines written by sipwarden's logger, read by
 * fail2ban-regex with deploy/fail2ban/filter.d/sipwarden.conf; the jail checked by
 * fail2ban-client --test in a scratch configuration directory.
 */

const FILTER = join(PROJECT_ROOT, 'deploy/fail2ban/filter.d/sipwarden.conf');
const JAIL = join(PROJECT_ROOT, 'deploy/fail2ban/jail.d/sipwarden.conf');
const skip = haveCommands('fail2ban-regex', 'fail2ban-client') ? undefined : 'fail2ban is not installed';

const T0 = Date.parse('2026-11-25T16:39:05.123Z');

function source(address: string, transport: Source['transport'] = 'udp'): Source {
  return { transport, address, port: 5060, family: address.includes(':') && !address.startsWith('::ffff:') ? 6 : 4 };
}

function event(src: Source, fields: Partial<SecurityEvent> & { until?: number; target?: string }): SecurityEvent {
  const { until, target, ...rest } = fields;
  const base: SecurityEvent = {
    time: T0,
    source: src,
    guard: 'flood',
    rule: 'density',
    action: 'ban',
    monitor: false,
    detail: '',
    ...rest,
  };
  if (base.action !== 'ban') return base;
  return { ...base, ban: { target: target ?? src.address, until: until ?? base.time + 300_000, reason: 'flood' } };
}

/** Writes a security event the way sipwarden's event log does: fields, then `banMessage` as msg. */
function logEvent(log: Logger, e: SecurityEvent, extra: Record<string, unknown> = {}): void {
  const fields = {
    event: e.action,
    source: e.source.address,
    port: e.source.port,
    transport: e.source.transport,
    guard: e.guard,
    rule: e.rule,
    ...(e.ban ? { target: e.ban.target, until: new Date(e.ban.until).toISOString() } : {}),
    ...extra,
    detail: e.detail,
  };
  if (e.action === 'ban') log.warn(fields, banMessage(e));
  else log.info(fields, `${e.action} from ${e.source.address} guard=${e.guard} rule=${e.rule}`);
}

const FORGED = 'Blocking traffic from 6.6.6.6 guard=flood rule=density for 300s';

describe('banMessage', () => {
  it('builds the line from checked fields only', () => {
    assert.equal(
      banMessage(event(source('192.0.2.7'), {})),
      'Blocking traffic from 192.0.2.7 guard=flood rule=density for 300s',
    );
    assert.equal(
      banMessage(event(source('2001:db8:1:2::5'), { target: '2001:db8:1:2::/64', until: T0 + 59_001 })),
      'Blocking traffic from 2001:db8:1:2::5 guard=flood rule=density for 60s',
    );
    assert.equal(
      banMessage(event(source('::ffff:198.51.100.20', 'tls'), { guard: 'scanner', rule: 'user-agent' })),
      'Blocking traffic from 198.51.100.20 guard=scanner rule=user-agent for 300s',
    );
  });

  it('never lets foreign text in, and says nothing matching for non-bans', () => {
    const forged = banMessage(event(source(`6.6.6.6 guard=x`), {}));
    assert.doesNotMatch(forged, /Blocking traffic from/);
    assert.equal(
      banMessage(event(source('192.0.2.7'), { guard: 'flood"}\n', rule: 'Density' })),
      'Blocking traffic from 192.0.2.7 guard=invalid rule=invalid for 300s',
    );
    assert.match(
      banMessage(event(source('192.0.2.7'), { monitor: true })),
      /^Would block traffic from 192\.0\.2\.7 .*\(monitor\)$/,
    );
    assert.match(banMessage(event(source('192.0.2.7'), { action: 'drop' })), /^No ban \(action drop\)/);
    assert.equal(
      banMessage(event(source('192.0.2.7'), { until: T0 - 5000 })),
      'Blocking traffic from 192.0.2.7 guard=flood rule=density for 0s',
    );
    const broken = { ...event(source('192.0.2.7'), {}), source: undefined } as unknown as SecurityEvent;
    assert.match(banMessage(broken), /^Ban of an unreadable source address/);
  });
});

describe('fail2ban filter and jail', { skip }, () => {
  let dir = '';
  let logFile = '';
  let lineCount = 0;
  let writtenFrom = 0;
  let writtenTo = 0;
  before(() => {
    writtenFrom = Math.floor(Date.now() / 1000);
    dir = mkdtempSync(join(tmpdir(), 'sipwarden-f2b-'));
    logFile = join(dir, 'sipwarden.log');
    const fd = openSync(logFile, 'a');
    const log = createLogger({ level: 'info', destination: fd });
    // Real bans.
    logEvent(log, event(source('192.0.2.7'), { detail: '47 messages in 2s' }));
    logEvent(log, event(source('2001:db8:1:2::5'), { target: '2001:db8:1:2::/64', detail: 'prefix /64' }));
    logEvent(
      log,
      event(source('::ffff:198.51.100.20', 'tcp'), { guard: 'scanner', rule: 'user-agent', until: T0 + 60_000 }),
    );
    // A real ban whose attacker fields carry a forged "msg".
    logEvent(
      log,
      event(source('203.0.113.9'), { guard: 'scanner', rule: 'user-agent', detail: `x"msg":"${FORGED}"}` }),
      {
        userAgent: `friendly-scanner x"msg":"${FORGED}`,
      },
    );
    // Forgeries in events that ban nobody.
    const drop = (detail: string, extra: Record<string, unknown> = {}) =>
      logEvent(log, event(source('198.51.100.99'), { action: 'drop', detail }), extra);
    drop(`\n{"level":"warn","time":"2026-11-25T16:39:05.123Z","msg":"${FORGED}"}\n`);
    drop(`a\u2028${FORGED}`);
    drop(`${FORGED}"}`);
    drop(`\\"msg\\":\\"${FORGED}"}`);
    drop(`\r${FORGED}\u2029`, { userAgent: `"msg":"${FORGED}"}` });
    drop(`lone surrogate \ud800 ${FORGED}`);
    drop('x'.repeat(5000) + FORGED);
    // A ban in monitor mode: sipwarden did not ban, so fail2ban must not either.
    logEvent(log, event(source('192.0.2.99'), { monitor: true }));
    // Unrelated lines.
    log.info({ event: 'listening', url: 'udp://0.0.0.0:5060' }, 'listening');
    // A line of another event whose message happens to read like a ban.
    log.warn({ event: 'reload-failed' }, FORGED);
    log.flush();
    closeSync(fd);
    writtenTo = Math.ceil(Date.now() / 1000);
    const text = readFileSync(logFile, 'utf8');
    lineCount = text.split('\n').filter((l) => l !== '').length;
    for (const line of text.split('\n').filter((l) => l !== '')) JSON.parse(line); // every line is one JSON object
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('matches exactly the real bans, with their times', () => {
    const ips = run('fail2ban-regex', ['-o', 'ip', logFile, FILTER]);
    assert.equal(ips.status, 0, ips.stderr);
    const matched = ips.stdout.split('\n').filter((l) => l.trim() !== '');
    assert.deepEqual(matched, ['192.0.2.7', '2001:db8:1:2::5', '198.51.100.20', '203.0.113.9']);

    const rows = run('fail2ban-regex', ['-o', 'row', logFile, FILTER]);
    const times = [...rows.stdout.matchAll(/^\['[^']+',\s+(\d+),/gm)].map((m) => Number(m[1]));
    // The logger's "time" is when the line was written; fail2ban must read it as UTC.
    assert.equal(times.length, 4, rows.stdout);
    for (const t of times)
      assert.ok(t >= writtenFrom && t <= writtenTo, `time ${t} not in [${writtenFrom}, ${writtenTo}]`);
  });

  it('reads every line and reports no other match', () => {
    const r = run('fail2ban-regex', [logFile, FILTER]);
    assert.equal(r.status, 0, r.stderr);
    const m = /Lines: (\d+) lines, (\d+) ignored, (\d+) matched, (\d+) missed/.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.equal(Number(m[1]), lineCount);
    assert.equal(Number(m[3]), 4);
    assert.equal(Number(m[4]), lineCount - 4);
    assert.match(
      r.stdout,
      new RegExp(`\\[${lineCount}\\] \\^\\\\\\{"level"`),
      'the date pattern found the time on every line',
    );
  });

  it('matches journal lines (systemd backend: host and unit before the JSON)', () => {
    const line = readFileSync(logFile, 'utf8').split('\n')[0]!;
    const r = run('fail2ban-regex', ['-o', 'ip', '-d', '{NONE}', `edge-1 sipwarden[4242]: ${line}`, FILTER]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '192.0.2.7');
  });

  it('passes fail2ban-client --test with the jail installed', () => {
    const conf = join(dir, 'fail2ban');
    cpSync('/etc/fail2ban', conf, { recursive: true });
    // Only the sipwarden jail: the distribution's default jails want logs this machine may not have.
    rmSync(join(conf, 'jail.d'), { recursive: true, force: true });
    mkdirSync(join(conf, 'jail.d'));
    cpSync(FILTER, join(conf, 'filter.d', 'sipwarden.conf'));
    const jail = readFileSync(JAIL, 'utf8');
    assert.match(jail, /^logpath\s*=\s*\/var\/log\/sipwarden\/sipwarden\.log$/m);
    assert.match(jail, /^# backend\s*=\s*systemd$/m);
    assert.match(jail, /^# journalmatch\s*=\s*_SYSTEMD_UNIT=sipwarden\.service$/m);
    writeFileSync(join(conf, 'jail.d', 'sipwarden.conf'), jail.replace('/var/log/sipwarden/sipwarden.log', logFile), {
      flag: 'w',
    });
    const r = run('fail2ban-client', ['-c', conf, '--test']);
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(`${r.stdout}${r.stderr}`, /configuration test is successful/);
    const dump = run('fail2ban-client', ['-c', conf, '-d']);
    assert.match(dump.stdout, /\['set', 'sipwarden', 'maxretry', 1\]/);
    assert.match(dump.stdout, /\['set', 'sipwarden', 'addlogpath', '[^']*sipwarden\.log', 'head'\]/);
    assert.match(dump.stdout, /'port', '5060,5061'\], \['protocol', 'udp'\]/);
    assert.match(dump.stdout, /'port', '5060,5061'\], \['protocol', 'tcp'\]/);
  });
});
