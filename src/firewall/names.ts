/**
 * Names of the kernel objects the rendered rulesets create and `FirewallSync` fills. One place,
 * so the renderers and the sync cannot disagree.
 */

/** nftables: sets in `table inet <table>`. Single addresses and networks are kept apart (see sync.ts). */
export const NFT_SETS = Object.freeze({
  v4: 'banned_v4',
  v6: 'banned_v6',
  net4: 'banned_net_v4',
  net6: 'banned_net_v6',
});

/** Longest iptables chain name (XT_EXTENSION_MAXNAMELEN - 1). */
const MAX_CHAIN = 28;
/** Longest ipset name (IPSET_MAXNAMELEN - 1). */
const MAX_IPSET = 31;
/** Longest hashlimit name (the kernel's limit for revision 1 and later is 15 characters). */
const MAX_HASHLIMIT = 15;

export interface IptablesNames {
  /** User chains in the filter table. */
  input: string;
  flags: string;
  icmp: string;
  scan: string;
  /** ipsets (type hash:net: single addresses and networks in one set). */
  banned4: string;
  banned6: string;
  /** hashlimit table of sources probing closed ports. */
  probers: string;
  /** Log prefixes. */
  logDrop: string;
  logProbe: string;
}

/**
 * iptables names for a table name: chains upper-case (`SIPWARDEN-INPUT`), ipsets lower-case
 * (`sipwarden-banned4`). The kernel limits chain names to 28 characters and ipset names to 31,
 * so a long table name is cut to fit; the same table name always gives the same names.
 */
export function iptablesNames(table: string): IptablesNames {
  const chain = (suffix: string) => `${table.toUpperCase().slice(0, MAX_CHAIN - suffix.length - 1)}-${suffix}`;
  const ipset = (suffix: string) => `${table.slice(0, MAX_IPSET - suffix.length - 1)}-${suffix}`;
  const hashlimit = (suffix: string) => `${table.slice(0, MAX_HASHLIMIT - suffix.length - 1)}-${suffix}`;
  return {
    input: chain('INPUT'),
    flags: chain('FLAGS'),
    icmp: chain('ICMP'),
    scan: chain('SCAN'),
    banned4: ipset('banned4'),
    banned6: ipset('banned6'),
    probers: hashlimit('probe'),
    logDrop: `${table.slice(0, 16)} drop: `,
    logProbe: `${table.slice(0, 16)} probe: `,
  };
}

/** nftables log prefixes (same text as the iptables ones). */
export function nftLogPrefixes(table: string): { drop: string; probe: string } {
  return { drop: `${table.slice(0, 16)} drop: `, probe: `${table.slice(0, 16)} probe: ` };
}
