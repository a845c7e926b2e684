export { BanIndex } from './ban-index.js';
export { type BanStoreOptions, canonicalBan, DEFAULT_MAX_BANS, IndexedBanStore } from './indexed-store.js';
export { MemoryBanStore } from './memory.js';
export { openBanStore } from './open.js';
export {
  DEFAULT_BUSY_TIMEOUT_MS,
  DEFAULT_POLL_INTERVAL_MS,
  SqliteBanStore,
  type SqliteBanStoreOptions,
} from './sqlite.js';
export type { Ban, BanChange, BanChangeListener, BanStore } from './types.js';
