/**
 * Bans kept in memory only: lost on restart. For tests, and for `store.type: memory` where a
 * restart should forgive everyone.
 */
import { type BanStoreOptions, IndexedBanStore } from './indexed-store.js';
import type { Ban } from './types.js';

export class MemoryBanStore extends IndexedBanStore {
  constructor(options: BanStoreOptions = {}) {
    super(options);
  }

  protected persistAdd(_ban: Ban, _evicted: Ban | undefined): void {}

  protected persistRemove(_target: string): boolean {
    return false;
  }

  protected persistExpire(_bans: readonly Ban[]): void {}

  protected persistFlush(): number {
    return 0;
  }
}
