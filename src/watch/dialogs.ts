import { LruMap } from './bounded.js';

/** Dialogs remembered at once (about 150 bytes each: 15 MB when full). */
export const MAX_DIALOGS = 100_000;
/** A dialog with no request from the outside for this long is forgotten. */
export const DIALOG_IDLE_MS = 12 * 3_600_000;

/**
 * The dialogs sipwarden saw established, for the auth guard's in-dialog skip: a request with a
 * To tag goes on unchallenged only when its Call-ID and To tag name one of them.
 *
 * - A 2xx from the inside to a dialog-creating request from the outside (an INVITE, SUBSCRIBE
 *   or REFER that passed the guards, so authenticated when `auth` challenges it) adds the
 *   dialog under the tag the server put in its To: the tag the phone's in-dialog requests carry
 *   in their To.
 * - A dialog-creating request from the inside (the PBX calling a phone) adds the dialog under
 *   its From tag, which the phone's requests in that dialog carry in their To. (Its answer comes
 *   from the outside, which the watch does not see; the PBX opened the dialog, so requests in it
 *   are for the PBX to judge, as with a dialog it accepted.)
 *
 * Keys are Call-ID and tag; values the time of last use. The Call-ID is the outside's for a
 * dialog the outside opened, and as the proxy hands it over for one the inside opened (with
 * topology hiding the inside's own, which the phone sees sealed: `DialogMembership` opens the
 * token to look it up). Bounded: at
 * most MAX_DIALOGS, the least recently used go first; a forgotten dialog only means its next
 * in-dialog request is challenged (the phone answers with credentials and goes on).
 */
export class DialogTable {
  private readonly table: LruMap<string, number>;

  constructor(
    cap = MAX_DIALOGS,
    private readonly idle = DIALOG_IDLE_MS,
  ) {
    this.table = new LruMap(cap);
  }

  get size(): number {
    return this.table.size;
  }

  add(callId: string, tag: string, now: number): void {
    if (callId === '' || tag === '') return;
    this.table.set(key(callId, tag), now);
  }

  /** True when the dialog is known (and then it stays remembered for another idle period). */
  has(callId: string, tag: string, now: number): boolean {
    const k = key(callId, tag);
    const last = this.table.touch(k);
    if (last === undefined) return false;
    if (now - last >= this.idle) {
      this.table.delete(k);
      return false;
    }
    this.table.set(k, now);
    return true;
  }
}

function key(callId: string, tag: string): string {
  return `${callId}\n${tag}`;
}
