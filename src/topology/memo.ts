/**
 * A bounded string-to-string memo with two generations: lookups hit the young map, then the
 * old one (promoting the entry); when the young map is full it becomes the old one and the
 * previous old one is dropped. Memory stays under 2 x capacity entries, recently used
 * entries survive, and nothing is done per entry on eviction (an approximate LRU).
 */
export class TwoGenerationMemo {
  private young = new Map<string, string>();
  private old = new Map<string, string>();

  constructor(private readonly capacity: number) {}

  get(key: string): string | undefined {
    const hit = this.young.get(key);
    if (hit !== undefined || this.capacity === 0) return hit;
    const aged = this.old.get(key);
    if (aged !== undefined) this.set(key, aged);
    return aged;
  }

  set(key: string, value: string): void {
    if (this.capacity === 0) return;
    if (this.young.size >= this.capacity) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }

  /** Entries held, at most 2 x capacity. */
  get size(): number {
    return this.young.size + this.old.size;
  }
}
