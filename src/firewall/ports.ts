/**
 * What the host firewall must let in, worked out once for both renderers (nftables and
 * iptables): the SIP listeners' ports, the other open TCP ports, and who may reach the admin
 * API. Validation happens here, so a renderer only formats.
 */

import { parseCidr } from '../net/cidr.js';
import { parseIp } from '../net/ip.js';
import type { FirewallConfig, PortRange } from './config.js';

/** A SIP listener as the firewall sees it (a loaded `Config`'s `listen` entries satisfy it). */
export interface FirewallListener {
  readonly transport: 'udp' | 'tcp' | 'tls';
  /** Bound IP address; `0.0.0.0` or `::` for every address of that family. */
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6 | 0;
  /** Canonical URL, shown in the rule's comment. */
  readonly url: string;
}

/** The admin API's TCP port and the networks allowed to reach it besides loopback. */
export interface AdminAccess {
  readonly port: number;
  /** Addresses or networks (IPv4 or IPv6); empty: loopback only. */
  readonly allowFrom?: readonly string[];
}

export interface FirewallRenderInput {
  readonly firewall: Readonly<FirewallConfig>;
  readonly listeners: readonly FirewallListener[];
  readonly admin?: AdminAccess;
}

/** One port to accept: protocol, family, destination address (undefined: any) and port. */
export interface OpenPort {
  readonly protocol: 'udp' | 'tcp';
  readonly family: 4 | 6;
  /** Destination address to match, or undefined for every address of the family. */
  readonly address: string | undefined;
  readonly port: number;
  /** Listener URLs this rule serves (comment). */
  readonly label: string;
}

/** Networks allowed to the admin port, split by family (canonical text). */
export interface AdminPlan {
  readonly port: number;
  readonly v4: readonly string[];
  readonly v6: readonly string[];
}

/** Everything a renderer needs, validated. */
export interface FirewallPlan {
  readonly table: string;
  readonly scanSlowing: boolean;
  readonly sip: readonly OpenPort[];
  /** Listeners that cannot be opened (port 0: chosen at start), for a comment. */
  readonly skipped: readonly string[];
  readonly openTcpPorts: readonly number[];
  /** `firewall.open_udp_ports`, sorted, overlapping and adjacent ranges merged. */
  readonly openUdpPorts: readonly PortRange[];
  readonly admin: AdminPlan | undefined;
}

export class FirewallRenderError extends Error {
  override readonly name = 'FirewallRenderError';
}

/** Rate limits shared by both renderers (kept equal so both rulesets behave alike). */
export const LIMITS = Object.freeze({
  /** ICMP/ICMPv6 echo requests accepted per second (all sources together), and burst. */
  pingPerSecond: 5,
  pingBurst: 10,
  /** Log lines per minute for dropped packets and for probes, and burst. */
  logPerMinute: 10,
  logBurst: 5,
  /** A source probing more closed ports than this per minute gets silence only. */
  probesPerMinute: 10,
  /** One probe in this many is answered as "closed" (TCP reset / ICMP port unreachable). */
  rejectOneIn: 4,
});

const WILDCARD = new Set(['0.0.0.0', '::']);

function isWildcard(host: string): boolean {
  return WILDCARD.has(host);
}

function checkPort(port: number, what: string): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new FirewallRenderError(`${what} must be a port number from 1 to 65535, got ${String(port)}`);
  }
}

/**
 * The SIP ports to open, one per distinct (protocol, family, address, port): `tls` is TCP; a
 * listener on `0.0.0.0` or `::` opens the port for every address of its family (sipwarden binds
 * IPv6 sockets IPv6-only, so `::` does not cover IPv4). Listeners on port 0 are skipped.
 */
export function sipPorts(listeners: readonly FirewallListener[]): { ports: OpenPort[]; skipped: string[] } {
  const byKey = new Map<
    string,
    { protocol: 'udp' | 'tcp'; family: 4 | 6; address: string | undefined; port: number; labels: string[] }
  >();
  const skipped: string[] = [];
  for (const l of listeners) {
    const ip = parseIp(l.host);
    if (!ip) throw new FirewallRenderError(`listener ${JSON.stringify(l.url)}: the firewall needs an IP address`);
    if (l.port === 0) {
      skipped.push(l.url);
      continue;
    }
    checkPort(l.port, `listener ${l.url}`);
    const protocol = l.transport === 'udp' ? 'udp' : 'tcp';
    const address = isWildcard(l.host) ? undefined : l.host;
    const key = `${protocol} ${ip.family} ${address ?? '*'} ${l.port}`;
    const entry = byKey.get(key);
    if (entry) entry.labels.push(l.url);
    else byKey.set(key, { protocol, family: ip.family, address, port: l.port, labels: [l.url] });
  }
  const ports: OpenPort[] = [];
  for (const e of byKey.values()) {
    ports.push({ protocol: e.protocol, family: e.family, address: e.address, port: e.port, label: e.labels.join(' ') });
  }
  return { ports, skipped };
}

/** Validates the input and works out what to open. Throws FirewallRenderError for bad input. */
export function buildPlan(input: FirewallRenderInput): FirewallPlan {
  const fw = input.firewall;
  if (!/^[a-z][a-z0-9_]{0,23}$/.test(fw.table)) {
    throw new FirewallRenderError(`table ${JSON.stringify(fw.table)}: 1-24 lower-case letters, digits or "_"`);
  }
  const { ports, skipped } = sipPorts(input.listeners);
  const openTcpPorts = [...new Set(fw.openTcpPorts)].sort((a, b) => a - b);
  for (const p of openTcpPorts) checkPort(p, 'firewall.open_tcp_ports');
  let admin: AdminPlan | undefined;
  if (input.admin) {
    const port = input.admin.port;
    checkPort(port, 'the admin port');
    if (ports.some((p) => p.protocol === 'tcp' && p.port === port)) {
      throw new FirewallRenderError(`the admin port ${port} is also a SIP TCP/TLS listener port`);
    }
    if (openTcpPorts.includes(port)) {
      throw new FirewallRenderError(
        `the admin port ${port} is in firewall.open_tcp_ports, which opens it to everyone: use the admin allow list instead`,
      );
    }
    const v4: string[] = [];
    const v6: string[] = [];
    for (const text of input.admin.allowFrom ?? []) {
      let cidr: ReturnType<typeof parseCidr>;
      try {
        cidr = parseCidr(text);
      } catch (err) {
        throw new FirewallRenderError(`admin allow list: ${(err as Error).message}`);
      }
      const list = cidr.family === 4 ? v4 : v6;
      if (!list.includes(cidr.text)) list.push(cidr.text);
    }
    admin = { port, v4, v6 };
  }
  const openUdpPorts = mergeRanges(fw.openUdpPorts);
  return { table: fw.table, scanSlowing: fw.scanSlowing, sip: ports, skipped, openTcpPorts, openUdpPorts, admin };
}

/** Sorted ranges with overlapping and adjacent ones joined (nftables refuses overlaps in a set). */
export function mergeRanges(ranges: readonly PortRange[]): PortRange[] {
  const merged: PortRange[] = [];
  for (const r of [...ranges].sort((a, b) => a.from - b.from || a.to - b.to)) {
    checkPort(r.from, 'firewall.open_udp_ports');
    checkPort(r.to, 'firewall.open_udp_ports');
    const last = merged.at(-1);
    if (last && r.from <= last.to + 1) merged[merged.length - 1] = { from: last.from, to: Math.max(last.to, r.to) };
    else merged.push({ from: r.from, to: r.to });
  }
  return merged;
}

/** A range as a ruleset writes it: `5004`, or `10000` and `20000` joined by `separator`. */
export function formatRange(r: PortRange, separator: string): string {
  return r.from === r.to ? String(r.from) : `${r.from}${separator}${r.to}`;
}
