/**
 * Keeps the order of work per key while some of it waits: a task whose key has work pending
 * waits behind it; a task that finishes synchronously with nothing pending for its key costs
 * one Map size check. Routing runs each message's way through it by Call-ID (and by source
 * before parsing), so an asynchronous hook never lets a retransmission or the next in-dialog
 * request overtake the message it waits on.
 */
export type Task<T> = (arg: T) => Promise<void> | undefined;

/** A task and its argument (no closure per message on the synchronous path). */
interface Queued {
  readonly task: Task<never>;
  readonly arg: unknown;
}

export class KeyedQueue {
  private readonly waiting = new Map<string, Queued[]>();

  constructor(private readonly onError: (err: unknown) => void) {}

  /** Keys with work pending (for tests and metrics). */
  get size(): number {
    return this.waiting.size;
  }

  /** Runs `task(arg)` now, or after the work pending for `key`. */
  run<T>(key: string, task: Task<T>, arg?: T): void {
    if (this.waiting.size !== 0) {
      const queue = this.waiting.get(key);
      if (queue !== undefined) {
        queue.push({ task: task as Task<never>, arg });
        return;
      }
    }
    const p = this.start(task, arg as T);
    if (p === undefined) return;
    this.waiting.set(key, []);
    p.then(() => this.drain(key));
  }

  /** Runs the tasks queued behind `key` until one waits again or none is left. */
  private drain(key: string): void {
    const queue = this.waiting.get(key);
    if (queue === undefined) return;
    for (;;) {
      const next = queue.shift();
      if (next === undefined) {
        this.waiting.delete(key);
        return;
      }
      const p = this.start(next.task as Task<unknown>, next.arg);
      if (p !== undefined) {
        p.then(() => this.drain(key));
        return;
      }
    }
  }

  /** Runs a task; a failure is reported and never stops the queue. */
  private start<T>(task: Task<T>, arg: T): Promise<void> | undefined {
    let p: Promise<void> | undefined;
    try {
      p = task(arg);
    } catch (err) {
      this.onError(err);
      return undefined;
    }
    return p?.catch(this.onError);
  }
}
