import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { FirewallConfig } from '../../src/firewall/config.js';
import { renderIptables } from '../../src/firewall/iptables.js';
import { iptablesNames } from '../../src/firewall/names.js';
import { renderNftables } from '../../src/firewall/nftables.js';
import { type FirewallListener, FirewallRenderError } from '../../src/firewall/ports.js';
import { PROJECT_ROOT } from '../helpers/corpus.js';
import { writeTestConfig } from '../helpers/firewall-config.js';

const BIN = join(PROJECT_ROOT, 'bin', 'sipwarden');

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'firewall', ...args], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Index of the first line containing `text`; fails when there is none. */
function lineOf(text: string, needle: string | RegExp): number {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => (typeof needle === 'string' ? l.includes(needle) : needle.test(l)));
  assert.ok(i >= 0, `no line with ${String(needle)}`);
  return i;
}

/** Rules only (comments dropped), so assertions cannot be satisfied by a comment. */
function rules(text: string): string {
  return text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n');
}

const tc = writeTestConfig();
after(() => rmSync(tc.dir, { recursive: true, force: true }));
const listeners = tc.config.listen;
const firewall = tc.config.firewall;
const noScan: FirewallConfig = { ...firewall, scanSlowing: false };

describe('firewall: nftables rendering', () => {
  const text = renderNftables({ firewall, listeners });
  const body = rules(text);

  it('opens every SIP listener with its protocol and family (tls is TCP)', () => {
    assert.match(body, /^\t\tmeta nfproto ipv4 udp dport 5060 accept comment "udp:\/\/0\.0\.0\.0:5060"$/m);
    assert.match(body, /^\t\tmeta nfproto ipv4 tcp dport 5060 accept/m);
    assert.match(body, /^\t\tip daddr 203\.0\.113\.10 tcp dport 5061 accept/m);
    assert.match(body, /^\t\tmeta nfproto ipv6 udp dport 5060 accept/m);
    assert.match(body, /^\t\tip6 daddr 2001:db8::10 tcp dport 5080 accept/m);
    assert.match(body, /^\t\tip6 daddr 2001:db8::10 tcp dport 5061 accept/m);
    assert.doesNotMatch(body, /udp dport 5061/, 'TLS opens no UDP port');
    assert.doesNotMatch(body, /udp dport 5080/);
    assert.match(body, /^\t\ttcp dport \{ 22, 443 \} accept$/m);
  });

  it('opens the UDP ports and ranges of open_udp_ports, sorted and merged, and nothing without them', () => {
    assert.match(body, /^\t\tudp dport \{ 5004, 10000-16999 \} accept$/m);
    const none = rules(renderNftables({ firewall: { ...firewall, openUdpPorts: [] }, listeners }));
    assert.doesNotMatch(none, /5004|10000/);
  });

  it('declares the banned sets and drops banned sources in a raw-priority chain before the SIP accepts', () => {
    for (const set of ['banned_v4', 'banned_v6', 'banned_net_v4', 'banned_net_v6']) {
      assert.match(body, new RegExp(`set ${set} \\{ type ipv[46]_addr; flags (interval, )?timeout; \\}`));
      assert.match(body, new RegExp(`saddr @${set} counter drop`));
      assert.ok(lineOf(body, `@${set}`) < lineOf(body, 'dport 5060 accept'), `${set} is checked before SIP`);
    }
    assert.match(body, /chain prerouting \{ type filter hook prerouting priority raw; policy accept; \}/);
    assert.match(body, /chain input \{ type filter hook input priority filter; policy drop; \}/);
    assert.ok(lineOf(body, 'ct state established,related accept') < lineOf(body, 'dport 5060 accept'));
    assert.ok(lineOf(body, 'iif "lo" accept') < lineOf(body, 'ct state established'));
  });

  it('keeps the ICMPv6 that IPv6 needs, and rate-limits ping', () => {
    assert.match(body, /icmpv6 type \{[^}]*packet-too-big[^}]*\} accept/);
    assert.match(body, /nd-neighbor-solicit, nd-neighbor-advert \} ip6 hoplimit 255 accept/);
    assert.match(body, /icmp type \{ destination-unreachable[^}]*\} accept/);
    assert.match(body, /icmp type echo-request limit rate 5\/second burst 10 packets accept/);
  });

  it('has the scan-slowing rules only with scan_slowing', () => {
    assert.match(body, /jump tcp_flags/);
    assert.match(body, /tcp flags & \(fin\|syn\|rst\|psh\|ack\|urg\) == 0x0 counter drop comment "null scan"/);
    assert.match(body, /tcp flags & \(fin\|syn\) == fin\|syn counter drop/);
    assert.match(body, /ct state new tcp flags & \(fin\|syn\|rst\|ack\) != syn counter drop/);
    assert.match(body, /jump scan_slowing/);
    assert.match(body, /meta l4proto tcp numgen random mod 4 == 0 counter reject with tcp reset/);
    assert.match(body, /meta l4proto udp numgen random mod 4 == 0 counter reject with icmpx port-unreachable/);
    assert.match(body, /update @probers_v4 \{ ip saddr limit rate over 10\/minute/);
    assert.match(text, /nftables has no\n?.*TARPIT|has no TARPIT/, 'the missing TARPIT is explained');

    const plain = rules(renderNftables({ firewall: noScan, listeners }));
    for (const absent of ['tcp_flags', 'scan_slowing', 'numgen', 'probers', 'reject', 'limit rate 5/second']) {
      assert.ok(!plain.includes(absent), `no ${absent} without scan_slowing`);
    }
    assert.match(plain, /icmp type echo-request accept/);
    assert.match(plain, /packet-too-big/, 'IPv6 essentials stay');
    assert.match(plain, /limit rate 10\/minute burst 5 packets log prefix "sipwarden drop: "/);
    assert.match(plain, /saddr @banned_v4 counter drop/, 'bans stay');
  });

  it('reaches the admin port from loopback only unless networks are allowed', () => {
    const own = rules(renderNftables({ firewall, listeners, admin: { port: 8080 } }));
    assert.match(own, /^\t\ttcp dport 8080 counter drop/m);
    assert.doesNotMatch(own, /saddr .* tcp dport 8080 accept/);
    const open = rules(
      renderNftables({ firewall, listeners, admin: { port: 8080, allowFrom: ['192.0.2.0/24', '2001:db8:ff::/48'] } }),
    );
    assert.match(open, /ip saddr \{ 192\.0\.2\.0\/24 \} tcp dport 8080 accept/);
    assert.match(open, /ip6 saddr \{ 2001:db8:ff::\/48 \} tcp dport 8080 accept/);
    assert.ok(lineOf(open, 'tcp dport 8080 accept') < lineOf(open, 'tcp dport 8080 counter drop'));
    assert.ok(lineOf(open, 'tcp dport 8080 counter drop') < lineOf(open, 'dport 5060 accept'));
  });

  it('refuses what it cannot render', () => {
    const bad = (input: Parameters<typeof renderNftables>[0], re: RegExp) =>
      assert.throws(
        () => renderNftables(input),
        (err: Error) => err instanceof FirewallRenderError && re.test(err.message),
      );
    bad({ firewall, listeners, admin: { port: 5060 } }, /also a SIP TCP\/TLS listener port/);
    bad({ firewall, listeners, admin: { port: 22 } }, /open_tcp_ports/);
    bad({ firewall, listeners, admin: { port: 8080, allowFrom: ['10.0.0.1/8'] } }, /host bits/);
    bad({ firewall, listeners, admin: { port: 0 } }, /port number/);
    const host: FirewallListener = {
      transport: 'udp',
      host: 'pbx.example',
      port: 5060,
      family: 0,
      url: 'udp://pbx.example:5060',
    };
    bad({ firewall, listeners: [host] }, /needs an IP address/);
    bad({ firewall: { ...firewall, table: 'Bad-Name' }, listeners }, /table/);
  });

  it('skips a listener on port 0 with a comment', () => {
    const zero: FirewallListener = {
      transport: 'udp',
      host: '127.0.0.1',
      port: 0,
      family: 4,
      url: 'udp://127.0.0.1:0',
    };
    const text0 = renderNftables({ firewall, listeners: [zero] });
    assert.match(text0, /# udp:\/\/127\.0\.0\.1:0: port chosen when sipwarden starts/);
    assert.doesNotMatch(rules(text0), /dport 0/);
  });
});

describe('firewall: iptables rendering', () => {
  const r = renderIptables({ firewall, listeners });
  const v4 = rules(r.ipv4);
  const v6 = rules(r.ipv6);

  it('opens the UDP ports and ranges of open_udp_ports for both families', () => {
    for (const family of [v4, v6]) {
      assert.match(family, /^-A SIPWARDEN-INPUT -p udp -m udp --dport 5004 -j ACCEPT$/m);
      assert.match(family, /^-A SIPWARDEN-INPUT -p udp -m udp --dport 10000:16999 -j ACCEPT$/m);
    }
  });

  it('splits the listeners by family', () => {
    assert.match(
      v4,
      /^-A SIPWARDEN-INPUT -p udp -m udp --dport 5060 -m comment --comment "udp:\/\/0\.0\.0\.0:5060" -j ACCEPT$/m,
    );
    assert.match(v4, /^-A SIPWARDEN-INPUT -p tcp -m tcp --dport 5060 .*-j ACCEPT$/m);
    assert.match(v4, /^-A SIPWARDEN-INPUT -d 203\.0\.113\.10 -p tcp -m tcp --dport 5061 .*-j ACCEPT$/m);
    assert.doesNotMatch(v4, /2001:db8|5080/);
    assert.match(v6, /^-A SIPWARDEN-INPUT -p udp -m udp --dport 5060 .*-j ACCEPT$/m);
    assert.match(v6, /^-A SIPWARDEN-INPUT -d 2001:db8::10 -p tcp -m tcp --dport 5080 .*-j ACCEPT$/m);
    assert.match(v6, /^-A SIPWARDEN-INPUT -d 2001:db8::10 -p tcp -m tcp --dport 5061 .*-j ACCEPT$/m);
    assert.doesNotMatch(v6, /203\.0\.113\.10|-p tcp -m tcp --dport 5060 /);
    for (const text of [v4, v6]) {
      assert.match(text, /^-A SIPWARDEN-INPUT -p tcp -m tcp --dport 22 -j ACCEPT$/m);
      assert.match(text, /^-A SIPWARDEN-INPUT -p tcp -m tcp --dport 443 -j ACCEPT$/m);
      assert.match(text, /^:INPUT DROP \[0:0\]$/m);
    }
  });

  it('drops banned sources from the ipsets in the raw table, before anything in filter', () => {
    assert.match(r.ipset, /^create sipwarden-banned4 hash:net family inet hashsize \d+ maxelem 262144 timeout 0$/m);
    assert.match(r.ipset, /^create sipwarden-banned6 hash:net family inet6 hashsize \d+ maxelem 262144 timeout 0$/m);
    assert.ok(lineOf(v4, '-m set --match-set sipwarden-banned4 src -j DROP') < lineOf(v4, '*filter'));
    assert.ok(lineOf(v4, '*raw') < lineOf(v4, '--match-set sipwarden-banned4'));
    assert.ok(lineOf(v6, '-m set --match-set sipwarden-banned6 src -j DROP') < lineOf(v6, '--dport 5060'));
  });

  it('keeps ICMPv6 neighbour discovery and packet-too-big', () => {
    assert.match(v6, /--icmpv6-type packet-too-big -j ACCEPT/);
    assert.match(v6, /--icmpv6-type neighbour-solicitation -m hl --hl-eq 255 -j ACCEPT/);
    assert.match(v6, /--icmpv6-type neighbour-advertisement -m hl --hl-eq 255 -j ACCEPT/);
    assert.match(v4, /--icmp-type destination-unreachable -j ACCEPT/);
  });

  it('slows scans with random rejects, a per-source hashlimit, and TARPIT only on request', () => {
    assert.match(
      v4,
      /^-A SIPWARDEN-SCAN -p tcp -m statistic --mode random --probability 0\.2500 -j REJECT --reject-with tcp-reset$/m,
    );
    assert.match(
      v4,
      /-p udp -m statistic --mode random --probability 0\.2500 -j REJECT --reject-with icmp-port-unreachable/,
    );
    assert.match(v6, /-j REJECT --reject-with icmp6-port-unreachable/);
    assert.match(
      v4,
      /-m hashlimit --hashlimit-above 10\/minute .*--hashlimit-mode srcip --hashlimit-name sipwarden-probe/,
    );
    assert.match(v4, /--tcp-flags FIN,SYN,RST,PSH,ACK,URG NONE .*-j DROP/);
    assert.doesNotMatch(v4, /TARPIT/);
    const tar = renderIptables({ firewall, listeners, tarpit: true });
    assert.match(
      tar.ipv4,
      /^-A SIPWARDEN-SCAN -p tcp -m statistic --mode random --probability 0\.2500 -j TARPIT --tarpit$/m,
    );
    assert.match(tar.ipv6, /-j TARPIT --tarpit/);
    const plain = renderIptables({ firewall: noScan, listeners, tarpit: true });
    for (const text of [plain.ipv4, plain.ipv6]) {
      for (const absent of ['SIPWARDEN-SCAN', 'SIPWARDEN-FLAGS', 'statistic', 'TARPIT', 'hashlimit']) {
        assert.ok(!text.includes(absent), `no ${absent} without scan_slowing`);
      }
      assert.match(text, /--set|--match-set/);
      assert.match(text, /-j LOG --log-prefix "sipwarden drop: "/);
    }
  });

  it('keeps names within the kernel limits for long table names', () => {
    const n = iptablesNames('a_very_long_table_name_x');
    for (const chain of [n.input, n.flags, n.icmp, n.scan]) assert.ok(chain.length <= 28, chain);
    for (const set of [n.banned4, n.banned6]) assert.ok(set.length <= 31, set);
    assert.ok(n.probers.length <= 15, n.probers);
    assert.notEqual(n.banned4, n.banned6);
    assert.equal(new Set([n.input, n.flags, n.icmp, n.scan]).size, 4);
  });
});

describe('sipwarden firewall (command line)', () => {
  it('prints the nftables script of a configuration file', () => {
    const r = cli(['nftables', '--config', tc.file]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, renderNftables({ firewall, listeners }));
  });

  it('prints the iptables parts separately or together', () => {
    const all = renderIptables({ firewall, listeners, tarpit: false });
    const four = cli(['iptables', '--config', tc.file, '--family', '4', '--no-tarpit']);
    assert.equal(four.status, 0, four.stderr);
    assert.equal(four.stdout, all.ipv4);
    assert.equal(cli(['iptables', '--config', tc.file, '--family', '6', '--no-tarpit']).stdout, all.ipv6);
    assert.equal(cli(['iptables', '--config', tc.file, '--family', 'ipset']).stdout, all.ipset);
    const both = cli(['iptables', '--config', tc.file, '--no-tarpit']);
    assert.equal(both.status, 0, both.stderr);
    assert.ok(both.stdout.includes(all.ipset) && both.stdout.includes(all.ipv4) && both.stdout.includes(all.ipv6));
    assert.ok(lineOf(both.stdout, '### ipset') < lineOf(both.stdout, '### IPv4'));
    assert.ok(lineOf(both.stdout, '### IPv4') < lineOf(both.stdout, '### IPv6'));
    const tar = cli(['iptables', '--config', tc.file, '--family', '4', '--tarpit']);
    assert.match(tar.stdout, /-j TARPIT/);
  });

  it('works from --listen alone, with the default firewall section and an admin port', () => {
    const r = cli([
      'nftables',
      '--listen',
      'udp://0.0.0.0:5070',
      '--listen',
      'tls://[::]:5071',
      '--admin-port',
      '8088',
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /meta nfproto ipv4 udp dport 5070 accept/);
    assert.match(r.stdout, /meta nfproto ipv6 tcp dport 5071 accept/);
    assert.match(r.stdout, /tcp dport \{ 22 \} accept/, 'default open_tcp_ports');
    assert.match(r.stdout, /tcp dport 8088 counter drop/);
    assert.match(r.stdout, /jump scan_slowing/, 'default scan_slowing');
  });

  it('--listen replaces the file listeners', () => {
    const r = cli(['nftables', '--config', tc.file, '--listen', 'udp://192.0.2.1:5090']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /ip daddr 192\.0\.2\.1 udp dport 5090 accept/);
    assert.doesNotMatch(rules(r.stdout), /dport 5060/);
    assert.match(r.stdout, /tcp dport \{ 22, 443 \} accept/, 'the file firewall section stays');
  });

  it('exits 2 with a message for bad arguments', () => {
    const cases: Array<[string[], RegExp]> = [
      [['nftables'], /--config or --listen/],
      [['pf', '--listen', 'udp://0.0.0.0:5060'], /unknown backend 'pf'/],
      [['nftables', '--listen', 'udp://pbx.example:5060'], /must be an IP address/],
      [['nftables', '--listen', 'udp://0.0.0.0:5060', '--tarpit'], /nftables has no TARPIT/],
      [['nftables', '--listen', 'udp://0.0.0.0:5060', '--family', '4'], /--family/],
      [['iptables', '--listen', 'udp://0.0.0.0:5060', '--admin-port', 'x'], /not a port number/],
      [['iptables', '--listen', 'tcp://0.0.0.0:5060', '--admin-port', '5060'], /also a SIP TCP\/TLS listener port/],
      [['nftables', '--config', join(tc.dir, 'missing.yaml')], /no such file/],
      [['nftables', '--bogus'], /Unknown option/],
    ];
    for (const [args, re] of cases) {
      const r = cli(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stdout}`);
      assert.match(r.stderr, re, args.join(' '));
      assert.equal(r.stdout, '');
    }
    // A UDP listener may share its number with the (TCP) admin port.
    assert.equal(cli(['iptables', '--listen', 'udp://0.0.0.0:5060', '--admin-port', '5060']).status, 0);
    const help = cli(['--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /Usage: sipwarden firewall nftables\|iptables/);
  });
});
