/** `firewall`: the host firewall ruleset and the kernel's banned-address sets. */
import * as z from 'zod';
import { integer, oneOf, uniqueList } from '../config/fields.js';
import { section } from '../config/section.js';

export const firewallSchema = section({
  sync: z.boolean().default(false).meta({
    description:
      "Keep the firewall's set of banned addresses filled with the bans (with their timeouts), so the kernel drops banned floods. Needs root or `CAP_NET_ADMIN` and the rendered ruleset loaded.",
  }),
  backend: oneOf(['nftables', 'iptables'] as const)
    .default('nftables')
    .meta({ description: 'Which tool `sync` drives: `nft`, or `ipset` for iptables.' }),
  table: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,23}$/, {
      error: 'must be 1-24 lower-case letters, digits or "_", starting with a letter',
    })
    .default('sipwarden')
    .meta({ type: 'name', description: 'nftables table name; prefix of the iptables chains and ipsets.' }),
  open_tcp_ports: uniqueList(integer(1, 65535))
    .default([22])
    .meta({ type: 'list of ports', description: 'Other TCP ports the rendered ruleset keeps open (SSH).' }),
  scan_slowing: z.boolean().default(true).meta({
    description:
      'Include the port-scan-slowing rules: TCP flag sanity drops, ICMP rate limits, random reject of probes to closed ports (TARPIT where xtables-addons is present).',
  }),
})
  .prefault({})
  .meta({
    description:
      'The host firewall: `sipwarden firewall nftables\\|iptables` renders a ruleset from this configuration ([docs/firewall.md](firewall.md)).',
  });

export type FirewallConfig = z.output<typeof firewallSchema>;
