import { parseArgs } from 'node:util';
import { ConfigError, EndpointError, loadConfig, parseEndpoint } from '../config/index.js';
import { type FirewallConfig, firewallSchema } from '../firewall/config.js';
import { renderIptables } from '../firewall/iptables.js';
import { renderNftables } from '../firewall/nftables.js';
import { type FirewallListener, FirewallRenderError } from '../firewall/ports.js';
import { detectTarpit } from '../firewall/tarpit.js';

export const FIREWALL_USAGE = `Usage: sipwarden firewall nftables|iptables [--config FILE] [--listen URL]... [options]

Prints a host firewall ruleset for sipwarden's listeners: banned-source sets that
firewall.sync keeps filled, SIP ports open, everything else dropped, and (firewall.scan_slowing)
rules that slow port scans. See docs/firewall.md before loading it on a remote host.

  --config FILE       YAML configuration: listen addresses and the firewall section
  --listen URL        udp://, tcp:// or tls:// address sipwarden listens on (repeatable;
                      replaces the file's 'listen'; without --config the firewall section
                      has its defaults)
  --admin-port N      TCP port of the admin API (default: the port of admin.listen in
                      --config when not a loopback address): reachable from loopback only ...
  --admin-from CIDR   ... and from these addresses or networks (repeatable)
  --family 4|6|ipset  iptables: print only the IPv4 ruleset, the IPv6 ruleset or the ipsets
  --tarpit            iptables: hold TCP probes in TARPIT (needs xtables-addons; used
                      without this flag when its extension and kernel module are found)
  --no-tarpit         iptables: never use TARPIT

nftables:  sipwarden firewall nftables --config FILE > sipwarden.nft && nft -c -f sipwarden.nft
iptables:  sipwarden firewall iptables --config FILE --family ipset > ipset.conf  (and 4, 6)`;

const BACKENDS = ['nftables', 'iptables'] as const;
type Backend = (typeof BACKENDS)[number];

function defaultFirewall(): FirewallConfig {
  return firewallSchema.parse({});
}

/** Prints the ruleset; returns the exit status (2 for bad arguments or configuration). */
export function firewallCommand(argv: string[], out: (text: string) => void): number {
  const fail = (message: string) => {
    process.stderr.write(`sipwarden firewall: ${message}\n`);
    return 2;
  };
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    return fail(`${(err as Error).message}\n\n${FIREWALL_USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out(`${FIREWALL_USAGE}\n`);
    return 0;
  }
  if (positionals.length > 1) return fail(`one backend expected, got ${positionals.join(' ')}\n\n${FIREWALL_USAGE}`);

  let firewall: FirewallConfig;
  let listeners: FirewallListener[];
  /**
   * The admin API's port from the configuration, when it listens on an address other hosts can
   * reach: the rules keep it to loopback and --admin-from. On loopback (the default) the
   * loopback rule serves it and nothing opens it.
   */
  let configuredAdminPort: number | undefined;
  try {
    if (values.config !== undefined) {
      const config = loadConfig({ file: values.config });
      firewall = config.firewall;
      listeners = [...config.listen];
      if (config.admin.enabled && !config.admin.listen.loopback) configuredAdminPort = config.admin.listen.port;
    } else {
      if (!values.listen) return fail(`--config or --listen is needed\n\n${FIREWALL_USAGE}`);
      firewall = defaultFirewall();
      listeners = [];
    }
    // Parsed here rather than by the loader: the firewall needs no certificate for tls://.
    if (values.listen) listeners = values.listen.map((url) => parseEndpoint(url, { requireIp: true }));
  } catch (err) {
    if (err instanceof ConfigError || err instanceof EndpointError) return fail(err.message);
    throw err;
  }

  const backend = (positionals[0] ?? firewall.backend) as Backend;
  if (!BACKENDS.includes(backend))
    return fail(`unknown backend '${backend}' (nftables or iptables)\n\n${FIREWALL_USAGE}`);
  let admin: { port: number; allowFrom: string[] } | undefined;
  if (values['admin-port'] !== undefined) {
    const text = values['admin-port'];
    if (!/^[0-9]{1,5}$/.test(text)) return fail(`--admin-port ${JSON.stringify(text)} is not a port number`);
    admin = { port: Number(text), allowFrom: values['admin-from'] ?? [] };
  } else if (configuredAdminPort !== undefined) {
    // The configured admin API: reachable from loopback (and --admin-from) only, never opened to the world.
    admin = { port: configuredAdminPort, allowFrom: values['admin-from'] ?? [] };
  } else if (values['admin-from']) {
    return fail('--admin-from needs --admin-port (or an enabled admin section in --config)');
  }
  const family = values.family;
  if (family !== undefined && (backend !== 'iptables' || !['4', '6', 'ipset'].includes(family))) {
    return fail('--family is 4, 6 or ipset, and only for iptables');
  }
  if ((values.tarpit || values['no-tarpit']) && backend !== 'iptables') {
    return fail('nftables has no TARPIT: --tarpit is only for iptables (see docs/firewall.md)');
  }

  try {
    if (backend === 'nftables') {
      out(renderNftables({ firewall, listeners, admin }));
      return 0;
    }
    let tarpit = values.tarpit === true;
    if (!tarpit && !values['no-tarpit']) {
      const found = detectTarpit();
      tarpit = found.extension && found.module;
    }
    const rules = renderIptables({ firewall, listeners, admin, tarpit });
    if (family === 'ipset') out(rules.ipset);
    else if (family === '4') out(rules.ipv4);
    else if (family === '6') out(rules.ipv6);
    else {
      out(`### ipset: load first, with 'ipset restore -exist < FILE' (--family ipset)\n${rules.ipset}\n`);
      out(`### IPv4: load with 'iptables-restore FILE' (--family 4)\n${rules.ipv4}\n`);
      out(`### IPv6: load with 'ip6tables-restore FILE' (--family 6)\n${rules.ipv6}`);
    }
    return 0;
  } catch (err) {
    if (err instanceof FirewallRenderError) return fail(err.message);
    throw err;
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      listen: { type: 'string', multiple: true },
      'admin-port': { type: 'string' },
      'admin-from': { type: 'string', multiple: true },
      family: { type: 'string' },
      tarpit: { type: 'boolean' },
      'no-tarpit': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
