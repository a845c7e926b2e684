/**
 * A message's arrival time from one clock read: the fine monotonic time of `performance.now()`
 * (sub-millisecond, for the forwarding latency) and, derived from it, the wall-clock milliseconds
 * the guards work with (the `Date.now()` scale). The offset between the two is taken again from
 * `Date.now()` once a second, so a step of the wall clock shows within a second and the message
 * path reads one clock, not two.
 */
export class ArrivalClock {
  private offset = 0;
  private synced = Number.NEGATIVE_INFINITY;
  /** `performance.now()` at the last `read`. */
  fine = 0;

  /** Reads the clock: returns the wall-clock milliseconds (an integer) and sets `fine`. */
  read(): number {
    const fine = performance.now();
    this.fine = fine;
    if (fine - this.synced >= ArrivalClock.RESYNC_MS) {
      const wall = Date.now();
      this.offset = wall - fine;
      this.synced = fine;
      return wall;
    }
    // The epsilon keeps rounding from putting a whole millisecond back.
    return Math.floor(this.offset + fine + 1e-6);
  }

  private static readonly RESYNC_MS = 1000;
}
