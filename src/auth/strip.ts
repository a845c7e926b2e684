/**
 * Remembers which credentials header of a request the auth guard verified, and removes it from
 * the request it forwards when `strip_credentials` asks (its own realm's Authorization or
 * Proxy-Authorization line): the server behind it never sees them, and credentials meant for
 * that server (another realm) stay.
 *
 * The guard marks the header of the request it just accepted; the proxy, building the
 * forwarded copy of that same request right after the chain (synchronously), removes it, and
 * the transaction watch (`verifiedHeader`) leaves it out of the credentials the server behind
 * judges. One mark at a time, no allocation per message.
 */
import type { SipMessage } from '../sip/message.js';
import type { MessageWriter } from '../sip/writer.js';

export class CredentialStripper {
  private marked: SipMessage | undefined = undefined;
  private header = -1;
  private strip = false;

  /** Header number `k` of `msg` holds the credentials sipwarden verified; `strip`: remove it when forwarding. */
  mark(msg: SipMessage, k: number, strip = true): void {
    this.marked = msg;
    this.header = k;
    this.strip = strip;
  }

  /** The header number sipwarden verified in `msg` (the last request it accepted), or -1. */
  verifiedHeader(msg: SipMessage): number {
    return this.marked === msg ? this.header : -1;
  }

  /** The proxy's hook: applies the mark if it is this message's and asks for removal. */
  readonly apply = (msg: SipMessage, w: MessageWriter): void => {
    if (this.marked === msg && this.strip) w.remove(this.header);
  };
}
