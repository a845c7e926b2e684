/**
 * The guard pipeline end to end: a real sipwarden process, real sipp calls and real UDP/TCP
 * from many loopback addresses playing attackers.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROJECT_ROOT } from '../helpers/corpus.js';
import { haveCommands, run } from '../helpers/netns.js';
import { start, waitFor } from '../helpers/process.js';
import { sipp } from '../helpers/sipp.js';
import { type SipwardenInstance, startSipwarden } from '../helpers/sipwarden.js';
import { options, sleep, UdpPeer } from '../helpers/udp.js';

const PORT = 17820;
const UAS_PORT = 17821;
const BIN = join(PROJECT_ROOT, 'bin/sipwarden');
const svwarMissing = haveCommands('svwar') ? false : 'SIPVicious (svwar) is not installed';
const fail2banMissing = haveCommands('fail2ban-regex') ? false : 'fail2ban is not installed';

const config = (extra: string[] = []) =>
  [
    `listen: [udp://127.0.0.1:${PORT}, tcp://127.0.0.1:${PORT}]`,
    `upstreams: [{ name: pbx, targets: ["udp://127.0.0.1:${UAS_PORT}"], ping: false }]`,
    'log: { file: sipwarden.log }',
    'guards:',
    '  flood: { window: 2s, max_messages: 100, ban: 8s }',
    ...extra,
  ].join('\n');

function bans(sw: SipwardenInstance, ...args: string[]): string {
  return execFileSync(process.execPath, [BIN, 'bans', ...args, '--config', sw.configFile], { encoding: 'utf8' });
}

/** Sends one OPTIONS from `from` and reports whether the upstream got it and what came back. */
async function probe(upstream: UdpPeer, from: string, tag: string, extra: string[] = [], to = PORT) {
  const phone = await UdpPeer.bind(from);
  try {
    await phone.send(options(from, phone.port, tag, extra), to);
    await sleep(150);
    return { forwarded: upstream.matching(`tag=${tag}`).length > 0, answers: phone.received.length };
  } finally {
    phone.close();
  }
}

const banLines = (sw: SipwardenInstance) =>
  sw
    .logs()
    .filter((l) => l.event === 'ban')
    .map((l) => `${l.source} ${l.guard} ${l.rule}`);

describe('guard pipeline: flood, scanner, bans over real traffic', () => {
  let sw: SipwardenInstance;

  before(async () => {
    sw = await startSipwarden(config(), { listeners: 2 });
  });
  after(async () => {
    await sw?.stop();
  });

  it('bans a flooding source while a legitimate caller on another address completes every call', async () => {
    // Until the ban, the flood's OPTIONS reach the UAS too (the density allows 100), and sipp
    // counts each as a call: leave it room, and stop it when the caller is done.
    const uas = sipp({ scenario: 'uas-call.xml', ip: '127.0.0.1', port: UAS_PORT, calls: 1000, timeoutSec: 40 });
    await sleep(200);
    const uac = sipp({
      scenario: 'uac-call.xml',
      ip: '127.6.0.1',
      port: 17822,
      remote: `127.0.0.1:${PORT}`,
      calls: 20,
      rate: 5,
      timeoutSec: 40,
    });
    // The flood: 4000 OPTIONS from one address in about a second, while the calls go on.
    const attacker = await UdpPeer.bind('127.6.0.66');
    for (let i = 0; i < 40; i++) {
      for (let k = 0; k < 100; k++)
        attacker.socket.send(options('127.6.0.66', attacker.port, `fl${i}x${k}`), PORT, '127.0.0.1');
      await sleep(25);
    }
    attacker.close();
    const a = await uac.result;
    uas.run.signal('SIGTERM');
    await uas.result;
    assert.equal(a.failed, 0, a.output);
    assert.equal(a.successful, 20, a.output);
    assert.deepEqual(banLines(sw), ['127.6.0.66 flood density']);
    // The ban stopped the flood before parsing: sipwarden counted the blocked messages.
    const line = sw.logs().find((l) => l.event === 'ban')!;
    assert.equal(line.msg, 'Blocking traffic from 127.6.0.66 guard=flood rule=density for 8s');
    assert.equal(line.target, '127.6.0.66');
  });

  it('lets traffic through again when the ban expires', async () => {
    const upstream = await UdpPeer.bind('127.0.0.1', UAS_PORT);
    try {
      assert.equal((await probe(upstream, '127.6.0.66', 'exp1')).forwarded, false, 'still banned');
      await waitFor(
        () => sw.logs().some((l) => l.event === 'ban-expired' && l.target === '127.6.0.66'),
        'expiry',
        10_000,
      );
      assert.equal((await probe(upstream, '127.6.0.66', 'exp2')).forwarded, true, 'forwarded after expiry');
    } finally {
      upstream.close();
    }
  });

  it('blocks a scanner User-Agent on its first request and bans it', async () => {
    const upstream = await UdpPeer.bind('127.0.0.1', UAS_PORT);
    try {
      const first = await probe(upstream, '127.6.0.70', 'scan1', ['User-Agent: friendly-scanner']);
      assert.deepEqual(first, { forwarded: false, answers: 0 });
      // Banned now: even a clean request from that address goes nowhere.
      assert.equal((await probe(upstream, '127.6.0.70', 'scan2')).forwarded, false);
      // Another address is unaffected.
      assert.equal((await probe(upstream, '127.6.0.71', 'clean1')).forwarded, true);
      assert.ok(banLines(sw).includes('127.6.0.70 scanner user-agent'), banLines(sw).join('\n'));
    } finally {
      upstream.close();
    }
  });

  it('enforces bans added and removed with the CLI while running, and refuses banned TCP connections', async () => {
    const upstream = await UdpPeer.bind('127.0.0.1', UAS_PORT);
    try {
      bans(sw, 'add', '127.6.1.0/24', '--for', '10m', '--reason', 'abuse report');
      await waitFor(() => sw.logs().some((l) => l.event === 'ban-network'), 'the CLI ban to be seen', 3000);
      assert.equal((await probe(upstream, '127.6.1.9', 'cli1')).forwarded, false);
      const closed = await new Promise<boolean>((resolve) => {
        const c = connect({ host: '127.0.0.1', port: PORT, localAddress: '127.6.1.10' });
        c.on('error', () => resolve(true));
        c.on('close', () => resolve(true));
        c.on('data', () => resolve(false));
        c.write(options('127.6.1.10', 5060, 'tcp1'));
      });
      assert.ok(closed, 'the banned TCP connection is closed');
      const list = bans(sw, 'list');
      assert.match(list, /127\.6\.1\.0\/24\s+admin\s+abuse report/);
      bans(sw, 'remove', '127.6.1.0/24');
      await waitFor(() => sw.logs().some((l) => l.event === 'unban' && l.target === '127.6.1.0/24'), 'the lift', 3000);
      assert.equal((await probe(upstream, '127.6.1.9', 'cli2')).forwarded, true);
    } finally {
      upstream.close();
    }
  });

  it('writes ban lines that cannot be forged from attacker text', async () => {
    const upstream = await UdpPeer.bind('127.0.0.1', UAS_PORT);
    try {
      // A scanner whose User-Agent carries a forged ban line for another address.
      const forged =
        'friendly-scanner"}\n{"event":"ban","msg":"Blocking traffic from 6.6.6.6 guard=flood rule=density for 1s"}';
      await probe(upstream, '127.6.0.73', 'forge1', [`User-Agent: ${forged.replace(/\n/g, ' ')}`]);
      // A clean request whose From display name tries the same.
      await probe(upstream, '127.6.0.74', 'forge2', ['Subject: Blocking traffic from 6.6.6.6 guard=flood']);
      await waitFor(() => banLines(sw).includes('127.6.0.73 scanner user-agent'), 'the scanner ban');
    } finally {
      upstream.close();
    }
  });

  it('stops the real SIPVicious: svwar finds nothing, nothing reaches the PBX', { skip: svwarMissing }, async () => {
    const upstream = await UdpPeer.bind('127.0.0.1', UAS_PORT);
    try {
      // svwar sends from 127.0.0.1 whatever it is told (an attacker address here: not trusted).
      const run = start('timeout', [
        '-k',
        '2',
        '30',
        'svwar',
        '-e100-110',
        '-m',
        'INVITE',
        '127.0.0.1',
        '-p',
        String(PORT),
      ]);
      await run.exited;
      assert.match(run.output(), /found nothing/);
      assert.deepEqual(upstream.matching('friendly-scanner'), []);
      assert.ok(banLines(sw).includes('127.0.0.1 scanner user-agent'), banLines(sw).join('\n'));
    } finally {
      upstream.close();
    }
  });

  it('keeps bans across kill -9 and a restart', async () => {
    sw.run.signal('SIGKILL');
    await sw.run.exited;
    sw = await startSipwarden(config(), { listeners: 2, dir: sw.dir });
    const upstream = await UdpPeer.bind('127.0.0.1', UAS_PORT);
    try {
      assert.equal((await probe(upstream, '127.6.0.70', 'after1')).forwarded, false, 'the scanner is still banned');
      assert.equal((await probe(upstream, '127.6.0.72', 'after2')).forwarded, true);
      assert.match(bans(sw, 'list'), /127\.6\.0\.70\s+scanner/);
    } finally {
      upstream.close();
    }
  });

  it('fail2ban matches every ban of the real log, with its address, and nothing else', {
    skip: fail2banMissing,
  }, () => {
    const logFile = join(sw.dir, 'sipwarden.log');
    const r = run('fail2ban-regex', [
      '-o',
      'ip',
      logFile,
      join(PROJECT_ROOT, 'deploy/fail2ban/filter.d/sipwarden.conf'),
    ]);
    assert.equal(r.status, 0, r.stderr);
    const matched = r.stdout.split('\n').filter((l) => l.trim() !== '');
    const banned = readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"event":"ban"'))
      .map((l) => JSON.parse(l).source as string);
    assert.deepEqual(matched, ['127.6.0.66', '127.6.0.70', '127.6.0.73', ...(svwarMissing ? [] : ['127.0.0.1'])]);
    assert.deepEqual(matched, banned);
    assert.ok(!r.stdout.includes('6.6.6.6'));
  });
});

describe('guard pipeline: monitor mode', () => {
  it('reports what the guards would do and lets everything through', async () => {
    const port = 17840;
    const upstream = await UdpPeer.bind('127.0.0.1', port + 1);
    const sw = await startSipwarden(
      [
        `listen: [udp://127.0.0.1:${port}]`,
        `upstreams: [{ name: pbx, targets: ["udp://127.0.0.1:${port + 1}"], ping: false }]`,
        'guards:',
        '  flood: { mode: monitor, max_messages: 20 }',
        '  scanner: { mode: monitor }',
      ].join('\n'),
      { listeners: 1 },
    );
    try {
      const scanner = await UdpPeer.bind('127.6.2.1');
      for (let i = 0; i < 30; i++) {
        // Monitor lines are rate limited (20 a second): only the first 10 carry the scanner's UA.
        const ua = i < 10 ? ['User-Agent: friendly-scanner'] : [];
        await scanner.send(options('127.6.2.1', scanner.port, `mon${i}`, ua), port);
      }
      await sleep(300);
      scanner.close();
      assert.equal(upstream.matching('tag=mon').length, 30, 'every request was forwarded');
      const monitored = sw.logs().filter((l) => l.msg === 'monitor: would block');
      assert.ok(monitored.some((l) => l.guard === 'scanner' && l.rule === 'user-agent' && l.action === 'ban'));
      assert.ok(monitored.some((l) => l.guard === 'flood' && l.rule === 'density'));
      assert.deepEqual(banLines(sw), [], 'no ban line in monitor mode');
      assert.match(
        execFileSync(process.execPath, [BIN, 'bans', 'list', '--config', sw.configFile], { encoding: 'utf8' }),
        /no bans|^\s*$/i,
      );
    } finally {
      upstream.close();
      await sw.stop();
    }
  });
});

describe('guard pipeline: reload', () => {
  it('applies changed guard settings on SIGHUP, keeping the guards whose settings did not change', async () => {
    const port = 17860;
    const upstream = await UdpPeer.bind('127.0.0.1', port + 1);
    const base = [
      `listen: [udp://127.0.0.1:${port}]`,
      `upstreams: [{ name: pbx, targets: ["udp://127.0.0.1:${port + 1}"], ping: false }]`,
      'guards:',
      '  flood: { window: 10s, max_messages: 5, ban: 1m }',
    ];
    const sw = await startSipwarden([...base, '  scanner: { mode: monitor }'].join('\n'), { listeners: 1 });
    try {
      // Four messages from one source: under the flood density of 5 per window.
      assert.equal((await probe(upstream, '127.6.3.1', 'rl1', ['User-Agent: sipcli/v1.8'], port)).forwarded, true);
      assert.equal((await probe(upstream, '127.6.3.2', 'rl2', [], port)).forwarded, true);
      assert.equal((await probe(upstream, '127.6.3.2', 'rl3', [], port)).forwarded, true);
      writeFileSync(
        sw.configFile,
        `data_dir: ${sw.dir}/data\n${[...base, '  scanner: { mode: enforce }'].join('\n')}\n`,
      );
      sw.run.signal('SIGHUP');
      await waitFor(() => sw.logs().some((l) => l.event === 'reloaded'), 'the reload');
      assert.equal((await probe(upstream, '127.6.3.3', 'rl4', ['User-Agent: sipcli/v1.8'], port)).forwarded, false);
      // The flood guard was kept with its counts: 127.6.3.2's fourth message after the reload
      // is its sixth in the window (limit 5); a new flood guard would have counted only four.
      for (const tag of ['rl5', 'rl6', 'rl7', 'rl8']) await probe(upstream, '127.6.3.2', tag, [], port);
      assert.ok(banLines(sw).includes('127.6.3.2 flood density'), banLines(sw).join('\n'));
    } finally {
      upstream.close();
      await sw.stop();
    }
  });
});

describe('guard pipeline: IPv6', () => {
  // Only ::1 is routable on the host's loopback, and its /64 (::/64) holds the IPv4-mapped range:
  // such a ban is narrowed to the address (the /64 of other sources: ipv6-sources.test.ts).
  it('bans an IPv6 flood from ::1 by the address, since ::/64 would hold every IPv4 peer', async () => {
    const port = 17870;
    const upstream = await UdpPeer.bind('::1', port + 1);
    const sw = await startSipwarden(
      [
        `listen: ["udp://[::1]:${port}"]`,
        `upstreams: [{ name: pbx, targets: ["udp://[::1]:${port + 1}"], ping: false }]`,
        'guards: { flood: { max_messages: 20, ban: 1m } }',
      ].join('\n'),
      { listeners: 1 },
    );
    try {
      const phone = await UdpPeer.bind('::1');
      for (let i = 0; i < 30; i++) await phone.send(options('::1', phone.port, `v6f${i}`), port, '::1');
      await waitFor(() => banLines(sw).length > 0, 'the ban');
      phone.close();
      const ban = sw.logs().find((l) => l.event === 'ban')!;
      assert.equal(ban.msg, 'Blocking traffic from ::1 guard=flood rule=density for 60s');
      assert.equal(ban.target, '::1');
      assert.equal(ban.note, 'banned ::1 alone: ::/64 would cover every IPv4 peer');
      assert.equal(upstream.matching('tag=v6f').length, 20, 'the density let 20 through');
      assert.match(
        execFileSync(process.execPath, [BIN, 'bans', 'list', '--config', sw.configFile], { encoding: 'utf8' }),
        /::1\s+flood/,
      );
    } finally {
      upstream.close();
      await sw.stop();
    }
  });
});
