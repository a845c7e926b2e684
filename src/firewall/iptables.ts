/**
 * Renders the host firewall for iptables: the ipsets of banned sources (`ipset restore`), and the
 * IPv4 and IPv6 rulesets (`iptables-restore`, `ip6tables-restore`). Same behaviour as the
 * nftables script; chains are prefixed with the table name (`SIPWARDEN-INPUT`).
 *
 * Restoring a ruleset file replaces the raw and filter tables whole (as /etc/iptables/rules.v4
 * does with iptables-persistent): rules that other software put there are gone afterwards.
 * Hosts that share their firewall with other tools are better served by the nftables script,
 * which only touches its own table.
 */
import { type IptablesNames, iptablesNames } from './names.js';
import { buildPlan, type FirewallPlan, type FirewallRenderInput, formatRange, LIMITS, type OpenPort } from './ports.js';

export interface IptablesRenderInput extends FirewallRenderInput {
  /**
   * Answer TCP probes with TARPIT (xtables-addons) instead of a reset: the connection is
   * accepted with a zero window and held, which costs the scanner a socket and time. Only
   * when the xtables-addons TARPIT module is installed (see `detectTarpit`).
   */
  readonly tarpit?: boolean;
  /** Most entries in each banned ipset (default 262144). */
  readonly maxBans?: number;
}

export interface IptablesRuleset {
  /** `ipset restore -exist` input: the banned-source sets (create before the rulesets). */
  ipset: string;
  /** `iptables-restore` input. */
  ipv4: string;
  /** `ip6tables-restore` input. */
  ipv6: string;
}

export const DEFAULT_MAX_BANS = 262_144;

/** The three files for the configuration (see the module comment). Throws FirewallRenderError. */
export function renderIptables(input: IptablesRenderInput): IptablesRuleset {
  const plan = buildPlan(input);
  const names = iptablesNames(plan.table);
  const tarpit = input.tarpit === true;
  const maxBans = input.maxBans ?? DEFAULT_MAX_BANS;
  if (!Number.isInteger(maxBans) || maxBans < 1 || maxBans > 0x7fffffff) {
    throw new RangeError(`maxBans must be a positive integer, got ${maxBans}`);
  }
  return {
    ipset: renderIpset(names, maxBans),
    ipv4: renderFamily(plan, names, 4, tarpit),
    ipv6: renderFamily(plan, names, 6, tarpit),
  };
}

function renderIpset(n: IptablesNames, maxBans: number): string {
  const hashsize = Math.min(65536, 1 << Math.ceil(Math.log2(Math.max(1024, maxBans / 8))));
  return [
    `# Banned sources for sipwarden's iptables rulesets, rendered by 'sipwarden firewall iptables'.`,
    '# Load before the rulesets:   ipset restore -exist < FILE',
    '# sipwarden keeps them filled (firewall.sync: true, backend iptables) with the bans and their',
    '# timeouts; hash:net holds single addresses and networks (an IPv6 /64 of a flood) alike.',
    '# "timeout 0" means: entries carry their own timeout.',
    `create ${n.banned4} hash:net family inet hashsize ${hashsize} maxelem ${maxBans} timeout 0`,
    `create ${n.banned6} hash:net family inet6 hashsize ${hashsize} maxelem ${maxBans} timeout 0`,
    `# Remove (after the rulesets that use them): ipset destroy ${n.banned4}; ipset destroy ${n.banned6}`,
    '',
  ].join('\n');
}

function portRule(chain: string, p: OpenPort): string {
  const dest = p.address === undefined ? '' : ` -d ${p.address}`;
  return `-A ${chain}${dest} -p ${p.protocol} -m ${p.protocol} --dport ${p.port} -m comment --comment "${p.label}" -j ACCEPT`;
}

function renderFamily(plan: FirewallPlan, n: IptablesNames, family: 4 | 6, tarpit: boolean): string {
  const v6 = family === 6;
  const cmd = v6 ? 'ip6tables-restore' : 'iptables-restore';
  const banned = v6 ? n.banned6 : n.banned4;
  const scan = plan.scanSlowing;
  const out: string[] = [];
  const add = (text: string) => out.push(text);
  const logLimit = `-m limit --limit ${LIMITS.logPerMinute}/minute --limit-burst ${LIMITS.logBurst}`;
  const pingLimit = scan ? ` -m limit --limit ${LIMITS.pingPerSecond}/second --limit-burst ${LIMITS.pingBurst}` : '';

  add(`# Host firewall for sipwarden (IPv${family}), rendered by 'sipwarden firewall iptables'.`);
  add('#');
  add(`# Check, then load:   ${cmd} --test FILE && ${cmd} FILE`);
  add(`# (the ipsets must exist first: ipset restore -exist < the ipset file)`);
  add('#');
  add('# Replaces the raw and filter tables whole; the policies of FORWARD and OUTPUT are kept.');
  add('# The INPUT policy is DROP: only what is accepted below gets in. On a remote host, load it');
  add('# with a way back (a console, or a timed rollback: see docs/firewall.md) and check that');
  add('# SSH still answers before you make it permanent.');
  add('');
  add('*raw');
  add('# Banned sources are dropped before connection tracking: a banned flood costs no conntrack');
  add('# entry and no further rule, and an established UDP flow cannot keep a banned source in.');
  add(`-A PREROUTING -m set --match-set ${banned} src -j DROP`);
  add('COMMIT');
  add('');
  add('*filter');
  add(':INPUT DROP [0:0]');
  add(`:${n.input} - [0:0]`);
  if (scan) add(`:${n.flags} - [0:0]`);
  add(`:${n.icmp} - [0:0]`);
  if (scan) add(`:${n.scan} - [0:0]`);
  add(`-A INPUT -j ${n.input}`);
  add('');
  add('# Loopback: local clients, the admin API, health checks.');
  add(`-A ${n.input} -i lo -j ACCEPT`);
  if (scan) {
    add('# TCP flag combinations no real stack sends (null, Xmas, SYN+FIN scans ...).');
    add(`-A ${n.input} -p tcp -j ${n.flags}`);
  }
  add('# Packets of connections already accepted, and the ICMP errors about them.');
  add(`-A ${n.input} -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT`);
  add('# Packets that belong to no connection conntrack can follow (out of window, forged).');
  add(`-A ${n.input} -m conntrack --ctstate INVALID -j DROP`);
  add('# ICMP: errors, path MTU discovery, IPv6 neighbour discovery, ping.');
  add(`-A ${n.input} -p ${v6 ? 'ipv6-icmp' : 'icmp'} -j ${n.icmp}`);
  if (plan.admin) {
    const a = plan.admin;
    const from = v6 ? a.v6 : a.v4;
    const who = from.length === 0 ? 'loopback only' : `loopback and ${from.join(', ')}`;
    add(`# Admin API (tcp/${a.port}): ${who}. Loopback is accepted above.`);
    for (const net of from) add(`-A ${n.input} -s ${net} -p tcp -m tcp --dport ${a.port} -j ACCEPT`);
    add(`-A ${n.input} -p tcp -m tcp --dport ${a.port} -m comment --comment "admin API: not from here" -j DROP`);
  }
  add('# SIP listeners (tls is TCP). sipwarden itself rate-limits, bans and checks what comes in.');
  const sip = plan.sip.filter((p) => p.family === family);
  if (sip.length === 0) add(`# (none on IPv${family})`);
  for (const p of sip) add(portRule(n.input, p));
  for (const s of plan.skipped) add(`# ${s}: port chosen when sipwarden starts, not opened here`);
  if (plan.openTcpPorts.length > 0) {
    add('# Other open TCP ports (firewall.open_tcp_ports).');
    for (const port of plan.openTcpPorts) add(`-A ${n.input} -p tcp -m tcp --dport ${port} -j ACCEPT`);
  }
  if (plan.openUdpPorts.length > 0) {
    add('# Open UDP ports (firewall.open_udp_ports), such as the RTP range of a PBX on this host.');
    for (const r of plan.openUdpPorts) add(`-A ${n.input} -p udp -m udp --dport ${formatRange(r, ':')} -j ACCEPT`);
  }
  add('# Broadcast and multicast to closed ports: dropped without a log line.');
  if (v6) add(`-A ${n.input} -d ff00::/8 -j DROP`);
  else add(`-A ${n.input} -m addrtype --dst-type BROADCAST,MULTICAST -j DROP`);
  if (scan) {
    add('# Everything else is a probe of a closed port.');
    add(`-A ${n.input} -j ${n.scan}`);
  } else {
    add(
      `# Everything else: a sample is logged (at most ${LIMITS.logPerMinute} lines a minute), then the policy drops it.`,
    );
    add(`-A ${n.input} ${logLimit} -j LOG --log-prefix "${n.logDrop}" --log-level 6`);
  }

  if (scan) {
    add('');
    add(
      `-A ${n.flags} -p tcp -m tcp --tcp-flags FIN,SYN,RST,PSH,ACK,URG NONE -m comment --comment "null scan" -j DROP`,
    );
    add(
      `-A ${n.flags} -p tcp -m tcp --tcp-flags FIN,SYN,RST,PSH,ACK,URG FIN,PSH,URG -m comment --comment "Xmas scan" -j DROP`,
    );
    add(
      `-A ${n.flags} -p tcp -m tcp --tcp-flags FIN,SYN,RST,PSH,ACK,URG FIN,SYN,RST,PSH,ACK,URG -m comment --comment "all flags" -j DROP`,
    );
    add(`-A ${n.flags} -p tcp -m tcp --tcp-flags FIN,SYN FIN,SYN -m comment --comment "SYN+FIN" -j DROP`);
    add(`-A ${n.flags} -p tcp -m tcp --tcp-flags SYN,RST SYN,RST -m comment --comment "SYN+RST" -j DROP`);
    add(`-A ${n.flags} -p tcp -m tcp --tcp-flags FIN,RST FIN,RST -m comment --comment "FIN+RST" -j DROP`);
    add(`-A ${n.flags} -p tcp -m tcp --tcp-flags FIN,ACK FIN -m comment --comment "FIN without ACK" -j DROP`);
    add(`-A ${n.flags} -p tcp -m tcp --tcp-flags PSH,ACK PSH -m comment --comment "PSH without ACK" -j DROP`);
    add(`-A ${n.flags} -p tcp -m tcp --tcp-flags ACK,URG URG -m comment --comment "URG without ACK" -j DROP`);
    add(
      `-A ${n.flags} -p tcp -m tcp ! --tcp-flags FIN,SYN,RST,ACK SYN -m conntrack --ctstate NEW -m comment --comment "new connection without SYN" -j DROP`,
    );
  }

  add('');
  if (v6) {
    add('# IPv6 does not work without these (RFC 4890): errors, packet too big (path MTU),');
    add('# neighbour and router discovery (only from the link: hop limit 255), multicast listeners.');
    for (const type of ['destination-unreachable', 'packet-too-big', 'time-exceeded', 'parameter-problem']) {
      add(`-A ${n.icmp} -p ipv6-icmp -m icmp6 --icmpv6-type ${type} -j ACCEPT`);
    }
    for (const type of [
      'router-solicitation',
      'router-advertisement',
      'neighbour-solicitation',
      'neighbour-advertisement',
    ]) {
      add(`-A ${n.icmp} -p ipv6-icmp -m icmp6 --icmpv6-type ${type} -m hl --hl-eq 255 -j ACCEPT`);
    }
    // MLD query 130, report 131, MLDv2 report 143: by number (not every ip6tables knows the names).
    for (const type of ['130', '131', '143']) {
      add(`-A ${n.icmp} -s fe80::/10 -p ipv6-icmp -m icmp6 --icmpv6-type ${type} -j ACCEPT`);
    }
    add(scan ? `# Ping, at most ${LIMITS.pingPerSecond} a second from all sources together.` : '# Ping.');
    add(`-A ${n.icmp} -p ipv6-icmp -m icmp6 --icmpv6-type echo-request${pingLimit} -j ACCEPT`);
  } else {
    add('# Errors (destination-unreachable carries "fragmentation needed" for path MTU discovery).');
    for (const type of ['destination-unreachable', 'time-exceeded', 'parameter-problem']) {
      add(`-A ${n.icmp} -p icmp -m icmp --icmp-type ${type} -j ACCEPT`);
    }
    add(scan ? `# Ping, at most ${LIMITS.pingPerSecond} a second from all sources together.` : '# Ping.');
    add(`-A ${n.icmp} -p icmp -m icmp --icmp-type echo-request${pingLimit} -j ACCEPT`);
  }
  add('# Any other ICMP (redirects, timestamps, pings beyond the limit ...).');
  add(`-A ${n.icmp} -j DROP`);

  if (scan) {
    add('');
    add('# Probes of closed ports. A random share is answered as "closed" and the rest gets silence,');
    add('# so a scanner sees no consistent picture and waits out its timeouts; a source probing many');
    add(
      tarpit
        ? '# ports gets only silence. TCP probes of that share are held in TARPIT (xtables-addons).'
        : '# ports gets only silence. (With xtables-addons, --tarpit holds TCP probes in TARPIT.)',
    );
    add(`-A ${n.scan} ${logLimit} -j LOG --log-prefix "${n.logProbe}" --log-level 6`);
    add(
      `-A ${n.scan} -m hashlimit --hashlimit-above ${LIMITS.probesPerMinute}/minute --hashlimit-burst ${LIMITS.probesPerMinute} --hashlimit-mode srcip --hashlimit-name ${n.probers} --hashlimit-htable-expire 60000 -m comment --comment "busy prober: silence" -j DROP`,
    );
    const share = `-m statistic --mode random --probability ${(1 / LIMITS.rejectOneIn).toFixed(4)}`;
    add(
      tarpit
        ? `-A ${n.scan} -p tcp ${share} -j TARPIT --tarpit`
        : `-A ${n.scan} -p tcp ${share} -j REJECT --reject-with tcp-reset`,
    );
    add(
      `-A ${n.scan} -p udp ${share} -j REJECT --reject-with ${v6 ? 'icmp6-port-unreachable' : 'icmp-port-unreachable'}`,
    );
    add(`-A ${n.scan} -j DROP`);
  }
  add('COMMIT');
  return `${out.join('\n')}\n`;
}
