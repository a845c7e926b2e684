import type { Config } from '../config/index.js';
import { TopologyHider } from './hider.js';
import { compileHygiene } from './hygiene.js';
import { ensureTopologyKey } from './keys.js';
import { TopologyTokens } from './token.js';

/**
 * Topology hiding as configured, or undefined when `topology.hide` is off. The inside's hosts
 * (for Warning headers) are the upstream targets and `topology.internal_hosts`.
 */
export function buildTopologyHider(config: Config): TopologyHider | undefined {
  const t = config.topology;
  if (!t.hide) return undefined;
  const key = ensureTopologyKey(t.key === undefined ? undefined : Buffer.from(t.key, 'hex'), config.dataDir);
  const previous = t.previousKeys.map((p) => ({ key: Buffer.from(p.key, 'hex'), until: p.until }));
  const tokens = new TopologyTokens({ current: key, previous });
  // Single trusted addresses are inside hosts too; trusted networks cannot be told by their text.
  const trustedHosts = config.trusted.filter((c) => !c.includes('/'));
  const internalHosts = [
    ...new Set([...config.upstreams.flatMap((u) => u.targets.map((e) => e.host)), ...trustedHosts, ...t.internalHosts]),
  ];
  return new TopologyHider(tokens, {
    callId: t.callId,
    out: compileHygiene({
      server: t.out.server,
      userAgent: t.out.userAgent,
      remove: t.out.remove,
      stripAssertedIdentityFromUntrusted: false,
      internalHosts,
    }),
    in: compileHygiene({
      server: t.in.server,
      userAgent: t.in.userAgent,
      remove: t.in.remove,
      stripAssertedIdentityFromUntrusted: t.in.stripAssertedIdentity,
      internalHosts: [],
    }),
    internalHosts,
  });
}
