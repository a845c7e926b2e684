/** `firewall`: the host firewall ruleset and the kernel's banned-address sets. */
import * as z from 'zod';
import { describeValue, fail, integer, oneOf, uniqueList } from '../config/fields.js';
import { section } from '../config/section.js';

/** A UDP port range, both ends included. */
export interface PortRange {
  readonly from: number;
  readonly to: number;
}

const PORT_RANGE = /^([0-9]{1,5})(?:\s*-\s*([0-9]{1,5}))?$/;

/** One port (`5004`) or a range (`"10000-20000"`), each port from 1 to 65535. */
const portRange = z
  .unknown()
  .transform((value, ctx): PortRange => {
    const text = typeof value === 'number' || typeof value === 'string' ? String(value).trim() : '';
    const m = PORT_RANGE.exec(text);
    if (!m) return fail(ctx, `expected a port or a range such as "10000-20000", got ${describeValue(value)}`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (from < 1 || to > 65535) return fail(ctx, 'ports are from 1 to 65535');
    if (from > to) return fail(ctx, `the range ${from}-${to} ends before it starts`);
    return { from, to };
  })
  .meta({ type: 'port or range' });

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
  open_udp_ports: z.array(portRange).default([]).meta({
    type: 'list of ports or ranges',
    description:
      'UDP ports and ranges the rendered ruleset keeps open, such as a PBX\'s RTP range on the same host (`["10000-20000"]`).',
  }),
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
