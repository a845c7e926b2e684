import { headerError } from './errors.js';
import type { SipMessage } from './message.js';
import { MAX_DELTA_SECONDS, parseDecimal } from './scalars.js';

/**
 * Decodes every header sipwarden knows, so a malformed one surfaces now as a
 * SipParseError instead of later in a guard. Used by `check-message` and by guards that
 * want the whole message checked (sanity).
 */
export function validateMessage(msg: SipMessage): void {
  // Decoded on first use only: `essential` validation does not read them.
  msg.from;
  msg.to;
  if (msg.isRequest) msg.requestUri;
  msg.vias;
  const contact = msg.contact;
  if (contact !== undefined && !contact.star) {
    for (const a of contact.addresses) {
      const e = a.params.get('expires');
      if (e !== undefined) {
        if (e === null) throw headerError('Contact', 'expires');
        parseDecimal(e, MAX_DELTA_SECONDS, 'Contact');
      }
    }
  }
  msg.routes;
  msg.recordRoutes;
  msg.paths;
  msg.expires;
  msg.date;
  const minExpires = msg.header('Min-Expires');
  if (minExpires !== undefined) parseDecimal(minExpires, MAX_DELTA_SECONDS, 'Min-Expires');
  for (const name of ['Authorization', 'Proxy-Authorization', 'WWW-Authenticate', 'Proxy-Authenticate'] as const) {
    msg.authHeaders(name);
  }
}
