/**
 * What the admin API remembers of the running sipwarden: the last 1000 bus events (a ring),
 * the sources guards stopped most, and one point per second of traffic and blocks for the
 * last 15 minutes. The bus listeners only store references and bump counters: the SIP path
 * pays a few array writes per event.
 */
import type { EventBus, SipwardenEvent } from '../core/events.js';
import type { TrafficTotals } from './context.js';

/** A fixed-size ring, oldest overwritten first. */
export class Ring<T> {
  private readonly items: (T | undefined)[];
  private next = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }

  push(item: T): void {
    this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
  }

  /** Oldest first. */
  toArray(): T[] {
    const out: T[] = [];
    const first = (this.next - this.count + this.capacity) % this.capacity;
    for (let i = 0; i < this.count; i++) out.push(this.items[(first + i) % this.capacity]!);
    return out;
  }
}

export const EVENT_RING_SIZE = 1000;

/** A bus event with its number in this process (`<epoch>.<n>`: the SSE id). */
export interface NumberedEvent {
  readonly id: string;
  readonly seq: number;
  readonly event: SipwardenEvent;
}

/** Longest `Last-Event-ID` read (the ids this process gives are far shorter). */
const MAX_EVENT_ID = 40;

/**
 * The most recent bus events, each numbered as it arrives. The numbers let an event stream that
 * lost its connection take up where it stopped (`Last-Event-ID`); the epoch (this process's start)
 * tells a number of another process, whose events are all new to the client.
 */
export class RecentEvents {
  private readonly ring = new Ring<NumberedEvent>(EVENT_RING_SIZE);
  private readonly epoch = Date.now().toString(36);
  private seq = 0;
  private readonly listeners = new Set<(e: NumberedEvent) => void>();
  readonly stop: () => void;

  constructor(events: EventBus) {
    this.stop = events.subscribe((event) => {
      const seq = ++this.seq;
      const numbered = { id: `${this.epoch}.${seq}`, seq, event };
      this.ring.push(numbered);
      for (const l of this.listeners) l(numbered);
    });
  }

  /** Calls `listener` with every event from now on, numbered; returns the unsubscribe. */
  subscribe(listener: (e: NumberedEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The newest `limit` events (of `kind` when given), newest last. */
  list(limit: number, kind?: string): SipwardenEvent[] {
    const all = this.ring.toArray().map((n) => n.event);
    const wanted = kind === undefined ? all : all.filter((e) => e.kind === kind);
    return wanted.slice(Math.max(0, wanted.length - limit));
  }

  /**
   * The remembered events after `lastId` (a client's `Last-Event-ID`), oldest first: all of them
   * for an id of another process, none for an id that is not one of ours.
   */
  after(lastId: string): NumberedEvent[] {
    if (lastId.length > MAX_EVENT_ID) return [];
    const m = /^([0-9a-z]+)\.([0-9]+)$/.exec(lastId);
    if (m === null) return [];
    const all = this.ring.toArray();
    if (m[1] !== this.epoch) return all;
    const seq = Number(m[2]);
    return all.filter((n) => n.seq > seq);
  }
}

export interface SourceActivity {
  address: string;
  blocked: number;
  lastGuard: string;
  lastRule: string;
  lastSeen: number;
}

/** At most this many sources remembered; the least recently blocked forgotten first. */
export const MAX_SOURCES = 10_000;

/** Sources the guards stopped, counted from the bus's decisions. */
export class BlockedSources {
  private readonly sources = new Map<string, SourceActivity>();
  readonly stop: () => void;

  constructor(events: EventBus) {
    this.stop = events.onDecision((e) => {
      const address = e.source.address;
      let s = this.sources.get(address);
      if (s === undefined) {
        s = { address, blocked: 0, lastGuard: '', lastRule: '', lastSeen: 0 };
      } else {
        this.sources.delete(address); // re-inserted last: Map order is recency
      }
      s.blocked++;
      s.lastGuard = e.guard;
      s.lastRule = e.rule;
      s.lastSeen = e.time;
      this.sources.set(address, s);
      if (this.sources.size > MAX_SOURCES) this.sources.delete(this.sources.keys().next().value!);
    });
  }

  /** The busiest sources, then the most recently blocked. */
  top(limit: number): SourceActivity[] {
    return [...this.sources.values()]
      .sort((a, b) => b.blocked - a.blocked || b.lastSeen - a.lastSeen)
      .slice(0, limit)
      .map((s) => ({ ...s }));
  }
}

export interface SeriesPoint {
  /** Start of the second (epoch ms). */
  t: number;
  messages: number;
  blocked: Record<string, number>;
}

export const SERIES_STEP_MS = 1000;
export const SERIES_MINUTES = 15;

/** Per-second deltas of the proxy's totals, sampled once a second (a ring of 15 minutes). */
export class TrafficSeries {
  private readonly ring = new Ring<SeriesPoint>((SERIES_MINUTES * 60_000) / SERIES_STEP_MS);
  private last: { messages: number; blocked: Map<string, number> };
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly read: () => TrafficTotals,
    now: () => number = Date.now,
  ) {
    this.last = this.snapshot();
    this.timer = setInterval(() => this.sample(now()), SERIES_STEP_MS);
    this.timer.unref();
  }

  private snapshot(): { messages: number; blocked: Map<string, number> } {
    const t = this.read();
    return { messages: t.messages, blocked: new Map(t.blocked) };
  }

  /** Records the second that ended at `now`. */
  sample(now: number): void {
    const current = this.snapshot();
    const blocked: Record<string, number> = {};
    for (const [guard, n] of current.blocked) {
      const d = n - (this.last.blocked.get(guard) ?? 0);
      if (d > 0) blocked[guard] = d;
    }
    const t = Math.floor(now / SERIES_STEP_MS) * SERIES_STEP_MS - SERIES_STEP_MS;
    // A reload may start the counters again: a negative delta is a restart, not traffic.
    this.ring.push({ t, messages: Math.max(0, current.messages - this.last.messages), blocked });
    this.last = current;
  }

  /** The points of the last `minutes`, oldest first. */
  points(minutes: number, now: number): SeriesPoint[] {
    const since = now - minutes * 60_000;
    return this.ring.toArray().filter((p) => p.t >= since);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
