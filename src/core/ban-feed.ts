/**
 * Turns the ban store's changes into events: what the guards did not already report. Bans this
 * process added were reported by the BanRecorder when it wrote them; a ban another process
 * added (`sipwarden bans add` on the same file) becomes a `ban` event of origin `external`, with
 * the ban and nothing invented about a source. Lifts, expiries and flushes become `unban`,
 * `ban-expired` and `bans-flushed`.
 */
import type { BanChange, BanStore } from '../store/types.js';
import type { EventBus, SipwardenEvent } from './events.js';

/** Publishes `store`'s changes on `events`; returns the function that stops it. */
export function publishBanChanges(store: BanStore, events: EventBus, now: () => number = Date.now): () => void {
  return store.subscribe((change) => {
    const e = eventOf(change, now());
    if (e !== undefined) events.emit(e);
  });
}

function eventOf(change: BanChange, time: number): SipwardenEvent | undefined {
  switch (change.kind) {
    case 'added':
      return change.external ? { kind: 'ban', origin: 'external', time, ban: change.ban } : undefined;
    case 'removed':
      return { kind: 'unban', time, target: change.target, origin: change.external ? 'external' : 'local' };
    case 'expired':
      return { kind: 'ban-expired', time, ban: change.ban };
    case 'flushed':
      return { kind: 'bans-flushed', time, count: change.count, origin: change.external ? 'external' : 'local' };
    default:
      return undefined;
  }
}
