/** Opens the ban store the configuration names. */
import type { StoreConfig } from './config.js';
import type { BanStoreOptions } from './indexed-store.js';
import { MemoryBanStore } from './memory.js';
import { SqliteBanStore } from './sqlite.js';
import type { BanStore } from './types.js';

/**
 * A `MemoryBanStore` or a `SqliteBanStore` on `config.path` (created when missing), holding at
 * most `maxBans` (`guards.bans.maxBans`). `options.onError` receives background problems (a
 * failed poll of the file, a failed expiry write); log them. Throws an Error naming the file
 * when it cannot be opened.
 */
export function openBanStore(
  config: Readonly<StoreConfig>,
  maxBans: number,
  options: Omit<BanStoreOptions, 'maxBans'> = {},
): BanStore {
  if (config.type === 'memory') return new MemoryBanStore({ ...options, maxBans });
  return new SqliteBanStore(config.path, { ...options, maxBans });
}
