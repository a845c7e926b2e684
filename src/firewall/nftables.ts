/**
 * Renders the host firewall as an nftables script (`nft -f FILE`): one `table inet <table>`
 * holding the banned-address sets that `FirewallSync` fills, a raw-priority prerouting chain
 * that drops banned sources before connection tracking, and an input chain with policy drop.
 *
 * Loading the script again replaces the rules but keeps the sets' contents (the bans): the
 * table, sets and chains are declared (a no-op when they exist), the chains are flushed and
 * refilled, all in one transaction.
 */
import { NFT_SETS, nftLogPrefixes } from './names.js';
import { buildPlan, type FirewallPlan, type FirewallRenderInput, formatRange, LIMITS, type OpenPort } from './ports.js';

const T = '\t';

function portRule(p: OpenPort): string {
  const match =
    p.address === undefined
      ? `meta nfproto ${p.family === 4 ? 'ipv4' : 'ipv6'}`
      : `${p.family === 4 ? 'ip' : 'ip6'} daddr ${p.address}`;
  return `${match} ${p.protocol} dport ${p.port} accept comment "${p.label}"`;
}

/** The nftables script for the configuration (see the module comment). Throws FirewallRenderError. */
export function renderNftables(input: FirewallRenderInput): string {
  return renderPlan(buildPlan(input));
}

function renderPlan(plan: FirewallPlan): string {
  const t = plan.table;
  const log = nftLogPrefixes(t);
  const scan = plan.scanSlowing;
  const out: string[] = [];
  const line = (indent: number, text: string) => out.push(`${T.repeat(indent)}${text}`);
  const limitLog = `limit rate ${LIMITS.logPerMinute}/minute burst ${LIMITS.logBurst} packets`;

  line(0, '#!/usr/sbin/nft -f');
  line(0, `# Host firewall for sipwarden, rendered by 'sipwarden firewall nftables'.`);
  line(0, '#');
  line(0, '# Check, then load:   nft -c -f FILE && nft -f FILE');
  line(0, `# Remove:             nft delete table inet ${t}`);
  line(0, '#');
  line(0, '# The input policy is DROP: only what is accepted below gets in. On a remote host, load it');
  line(0, '# with a way back (a console, or a timed rollback: see docs/firewall.md) and check that');
  line(0, '# SSH still answers before you make it permanent.');
  line(0, '#');
  line(0, '# Loading this file again replaces the rules and keeps the banned sets as they are. If a');
  line(0, `# load fails after an upgrade changed a set's definition, run 'nft delete table inet ${t}'`);
  line(0, '# first (sipwarden refills the banned sets when it starts).');
  line(0, '');
  line(0, `table inet ${t} {`);
  line(1, '# Banned sources, kept filled by sipwarden (firewall.sync: true) with the bans and their');
  line(1, '# timeouts. Single addresses are in hash sets; networks (an IPv6 /64 of a flood) are in');
  line(1, '# interval sets, which cannot hold overlapping entries.');
  line(1, `set ${NFT_SETS.v4} { type ipv4_addr; flags timeout; }`);
  line(1, `set ${NFT_SETS.v6} { type ipv6_addr; flags timeout; }`);
  line(1, `set ${NFT_SETS.net4} { type ipv4_addr; flags interval, timeout; }`);
  line(1, `set ${NFT_SETS.net6} { type ipv6_addr; flags interval, timeout; }`);
  if (scan) {
    line(1, '# Sources probing closed ports, with a per-source rate (entries vanish after a quiet minute).');
    line(1, 'set probers_v4 { type ipv4_addr; size 65536; flags dynamic, timeout; timeout 1m; }');
    line(1, 'set probers_v6 { type ipv6_addr; size 65536; flags dynamic, timeout; timeout 1m; }');
  }
  line(0, '');
  line(1, 'chain prerouting { type filter hook prerouting priority raw; policy accept; }');
  line(1, 'chain input { type filter hook input priority filter; policy drop; }');
  if (scan) line(1, 'chain tcp_flags {}');
  line(1, 'chain icmp_in {}');
  if (scan) line(1, 'chain scan_slowing {}');
  line(0, '}');
  line(0, '');
  line(0, '# Empty the chains, so that loading this file again replaces the rules instead of adding copies.');
  line(0, `flush chain inet ${t} prerouting`);
  line(0, `flush chain inet ${t} input`);
  if (scan) line(0, `flush chain inet ${t} tcp_flags`);
  line(0, `flush chain inet ${t} icmp_in`);
  if (scan) line(0, `flush chain inet ${t} scan_slowing`);
  line(0, '');
  line(0, `table inet ${t} {`);

  line(1, 'chain prerouting {');
  line(2, '# Banned sources are dropped before connection tracking (priority raw): a banned flood');
  line(2, '# costs no conntrack entry and no further rule, and an established UDP flow cannot keep');
  line(2, '# a banned source in.');
  line(2, `ip saddr @${NFT_SETS.v4} counter drop`);
  line(2, `ip saddr @${NFT_SETS.net4} counter drop`);
  line(2, `ip6 saddr @${NFT_SETS.v6} counter drop`);
  line(2, `ip6 saddr @${NFT_SETS.net6} counter drop`);
  line(1, '}');
  line(0, '');

  line(1, 'chain input {');
  line(2, '# Loopback: local clients, the admin API, health checks.');
  line(2, 'iif "lo" accept');
  if (scan) {
    line(2, '# TCP flag combinations no real stack sends (null, Xmas, SYN+FIN scans ...).');
    line(2, 'meta l4proto tcp jump tcp_flags');
  }
  line(2, '# Packets of connections already accepted, and the ICMP errors about them.');
  line(2, 'ct state established,related accept');
  line(2, '# Packets that belong to no connection conntrack can follow (out of window, forged).');
  line(2, 'ct state invalid counter drop');
  line(2, '# ICMP: errors, path MTU discovery, IPv6 neighbour discovery, ping.');
  line(2, 'meta l4proto { icmp, ipv6-icmp } jump icmp_in');
  if (plan.admin) {
    const a = plan.admin;
    const who = a.v4.length + a.v6.length === 0 ? 'loopback only' : `loopback and ${[...a.v4, ...a.v6].join(', ')}`;
    line(2, `# Admin API (tcp/${a.port}): ${who}. Loopback is accepted above.`);
    if (a.v4.length > 0) line(2, `ip saddr { ${a.v4.join(', ')} } tcp dport ${a.port} accept`);
    if (a.v6.length > 0) line(2, `ip6 saddr { ${a.v6.join(', ')} } tcp dport ${a.port} accept`);
    line(2, `tcp dport ${a.port} counter drop comment "admin API: not from here"`);
  }
  line(2, '# SIP listeners (tls is TCP). sipwarden itself rate-limits, bans and checks what comes in.');
  if (plan.sip.length === 0) line(2, '# (none)');
  for (const p of plan.sip) line(2, portRule(p));
  for (const s of plan.skipped) line(2, `# ${s}: port chosen when sipwarden starts, not opened here`);
  if (plan.openTcpPorts.length > 0) {
    line(2, '# Other open TCP ports (firewall.open_tcp_ports).');
    line(2, `tcp dport { ${plan.openTcpPorts.join(', ')} } accept`);
  }
  if (plan.openUdpPorts.length > 0) {
    line(2, '# Open UDP ports (firewall.open_udp_ports), such as the RTP range of a PBX on this host.');
    line(2, `udp dport { ${plan.openUdpPorts.map((r) => formatRange(r, '-')).join(', ')} } accept`);
  }
  line(2, '# Broadcast and multicast to closed ports: dropped without a log line.');
  line(2, 'fib daddr type { broadcast, multicast } drop');
  if (scan) {
    line(2, '# Everything else is a probe of a closed port.');
    line(2, 'jump scan_slowing');
  } else {
    line(
      2,
      `# Everything else: a sample is logged (at most ${LIMITS.logPerMinute} lines a minute), then the policy drops it.`,
    );
    line(2, `${limitLog} log prefix "${log.drop}" level info`);
  }
  line(1, '}');
  line(0, '');

  if (scan) {
    line(1, 'chain tcp_flags {');
    line(2, 'tcp flags & (fin|syn|rst|psh|ack|urg) == 0x0 counter drop comment "null scan"');
    line(2, 'tcp flags & (fin|syn|rst|psh|ack|urg) == fin|psh|urg counter drop comment "Xmas scan"');
    line(2, 'tcp flags & (fin|syn|rst|psh|ack|urg) == fin|syn|rst|psh|ack|urg counter drop comment "all flags"');
    line(2, 'tcp flags & (fin|syn) == fin|syn counter drop comment "SYN+FIN"');
    line(2, 'tcp flags & (syn|rst) == syn|rst counter drop comment "SYN+RST"');
    line(2, 'tcp flags & (fin|rst) == fin|rst counter drop comment "FIN+RST"');
    line(2, 'tcp flags & (fin|ack) == fin counter drop comment "FIN without ACK"');
    line(2, 'tcp flags & (psh|ack) == psh counter drop comment "PSH without ACK"');
    line(2, 'tcp flags & (urg|ack) == urg counter drop comment "URG without ACK"');
    line(2, 'ct state new tcp flags & (fin|syn|rst|ack) != syn counter drop comment "new connection without SYN"');
    line(1, '}');
    line(0, '');
  }

  line(1, 'chain icmp_in {');
  const ping = scan ? `limit rate ${LIMITS.pingPerSecond}/second burst ${LIMITS.pingBurst} packets accept` : 'accept';
  line(2, '# IPv4: errors (destination-unreachable carries "fragmentation needed" for path MTU discovery).');
  line(2, 'icmp type { destination-unreachable, time-exceeded, parameter-problem } accept');
  line(2, scan ? `# Ping, at most ${LIMITS.pingPerSecond} a second from all sources together.` : '# Ping.');
  line(2, `icmp type echo-request ${ping}`);
  line(2, '# IPv6 does not work without these (RFC 4890): errors, packet too big (path MTU),');
  line(2, '# neighbour and router discovery (only from the link: hop limit 255), multicast listeners.');
  line(2, 'icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem } accept');
  line(
    2,
    'icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } ip6 hoplimit 255 accept',
  );
  line(2, 'icmpv6 type { mld-listener-query, mld-listener-report, mld2-listener-report } ip6 saddr fe80::/10 accept');
  line(2, `icmpv6 type echo-request ${ping}`);
  line(2, '# Any other ICMP (redirects, timestamps, pings beyond the limit ...).');
  line(2, 'counter drop');
  line(1, '}');

  if (scan) {
    line(0, '');
    line(1, '# Probes of closed ports. A random share is answered as "closed" (TCP reset, ICMP port');
    line(1, '# unreachable) and the rest gets silence, so a scanner sees no consistent picture and');
    line(1, '# waits out its timeouts; a source probing many ports gets only silence. nftables has no');
    line(1, '# TARPIT (it needs the xtables-addons kernel module): use the iptables ruleset with');
    line(1, '# --tarpit for that.');
    line(1, 'chain scan_slowing {');
    line(2, `${limitLog} log prefix "${log.probe}" level info`);
    const over = `limit rate over ${LIMITS.probesPerMinute}/minute burst ${LIMITS.probesPerMinute} packets`;
    line(2, `update @probers_v4 { ip saddr ${over} } counter drop comment "busy prober: silence"`);
    line(2, `update @probers_v6 { ip6 saddr ${over} } counter drop comment "busy prober: silence"`);
    const share = `numgen random mod ${LIMITS.rejectOneIn} == 0`;
    line(2, `meta l4proto tcp ${share} counter reject with tcp reset`);
    line(2, `meta l4proto udp ${share} counter reject with icmpx port-unreachable`);
    line(2, 'counter drop');
    line(1, '}');
  }
  line(0, '}');
  return `${out.join('\n')}\n`;
}
