import { DistinctWindow, LruMap } from '../../watch/bounded.js';

export interface DialScanSettings {
  window: number;
  maxDestinations: number;
  maxSources: number;
}

/**
 * Distinct refused destinations per source within a window (svwar walking extensions, a
 * toll-fraud script walking dial prefixes), at most `maxDestinations + 1` remembered per
 * source and `maxSources` sources. A source is the key the guard passes: the address masked
 * as `sources.*` says (an IPv6 /64 by default), so rotating addresses does not reset it.
 */
export class DialScanTracker {
  private readonly sources: LruMap<string, DistinctWindow>;

  constructor(readonly settings: DialScanSettings) {
    this.sources = new LruMap(settings.maxSources);
  }

  /** Records a refused destination; returns the source's distinct refused destinations in the window. */
  refused(address: string, destination: string, now: number): number {
    const s = this.settings;
    let d = this.sources.touch(address);
    if (d === undefined) {
      d = new DistinctWindow(s.maxDestinations + 1);
      this.sources.set(address, d);
    }
    const n = d.add(destination, now, s.window);
    return n;
  }

  /** Forgets a source (it has just been banned). */
  forget(address: string): void {
    this.sources.delete(address);
  }

  count(address: string, now: number): number {
    return this.sources.peek(address)?.count(now, this.settings.window) ?? 0;
  }

  get trackedSources(): number {
    return this.sources.size;
  }
}
