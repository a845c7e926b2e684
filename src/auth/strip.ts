/**
 * Removes the credentials sipwarden checked (its own realm's Authorization or
 * Proxy-Authorization line) from the request it forwards: the server behind it never sees
 * them, and credentials meant for that server (another realm) stay.
 *
 * The guard marks the header of the request it just accepted; the proxy, building the
 * forwarded copy of that same request right after the chain (synchronously), removes it.
 * One mark at a time, no allocation per message.
 */
import type { SipMessage } from '../sip/message.js';
import type { MessageWriter } from '../sip/writer.js';

export class CredentialStripper {
  private marked: SipMessage | undefined = undefined;
  private header = -1;

  /** Header number `k` of `msg` is to be removed when `msg` is forwarded. */
  mark(msg: SipMessage, k: number): void {
    this.marked = msg;
    this.header = k;
  }

  /** The proxy's hook: applies the mark if it is this message's, and forgets it either way. */
  readonly apply = (msg: SipMessage, w: MessageWriter): void => {
    if (this.marked === msg) w.remove(this.header);
    this.marked = undefined;
  };
}
