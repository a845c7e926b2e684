import { CidrSet } from '../net/cidr.js';
import type { Config } from './schema.js';

/**
 * The addresses treated as inside: `trusted` plus every upstream target given as an IP address.
 * Targets given by hostname are not in it: add their resolved addresses (`set.add(ip)`).
 */
export function buildTrustedSet(config: Pick<Config, 'trusted' | 'upstreams'>): CidrSet {
  const set = new CidrSet(config.trusted);
  for (const u of config.upstreams) for (const t of u.targets) if (t.family !== 0) set.add(t.host);
  return set;
}
