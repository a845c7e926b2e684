/**
 * References to dialogs inside a message, as topology hiding must translate them when they
 * cross. A phone that holds a dialog with the PBX knows it by the Call-ID it saw (sealed, or
 * without its mark); the PBX knows it by its own. Transfer and call control name dialogs by
 * Call-ID in:
 *
 * - `Replaces` (RFC 3891) and `Join` (RFC 3911): `callid;to-tag=..;from-tag=..`;
 * - `Target-Dialog` (RFC 4538): `callid;local-tag=..;remote-tag=..`;
 * - a `Replaces` or `Join` embedded, %-escaped, as a header of the `Refer-To` URI (RFC 3891
 *   section 7.1, attended transfer): `<sip:carol@host?Replaces=callid%3Bto-tag%3D..>`.
 *
 * Their Call-IDs go through the same translation as the Call-ID header (hider.ts): coming in a
 * sealed one is opened and an outside one gets its mark; going out a marked one loses it and an
 * inside one is sealed. Topology hiding never changes tags, so the tag parameters stay as they are.
 *
 * Going out, two more things would name the inside:
 * - a `Refer-To` URI on an inside host (a PBX transferring a phone to one of its own
 *   extensions) is sealed like a Contact (`sip:<token>@<sipwarden>`; the phone's INVITE to it
 *   opens it again), its URI headers (the translated Replaces) kept in clear for the phone;
 * - the `message/sipfrag` body of a NOTIFY (RFC 3515 2.4.5, the progress of a transfer) may
 *   carry the inside's headers after its status line (Contact, Server, Via...): only the
 *   status line goes out (RFC 3420 allows a fragment of just a start line).
 * Coming in, a `Refer-To` naming such a sealed URI gets the original back, so a PBX asked to
 * transfer a call to it calls its own extension and not sipwarden.
 */
import { SipParseError } from '../sip/errors.js';
import { H } from '../sip/header-names.js';
import type { SipMessage } from '../sip/message.js';
import { parseNameAddr } from '../sip/name-addr.js';
import { hostAddress, type SipUri } from '../sip/uri.js';
import type { MessageWriter } from '../sip/writer.js';
import { type OwnContact, type TopologyHider, uriSpan } from './hider.js';

/** Headers whose value starts with a Call-ID naming a dialog (lower case; none has a compact form). */
const DIALOG_ID_HEADERS: ReadonlySet<string> = new Set(['replaces', 'join', 'target-dialog']);
const DIALOG_ID_LENGTHS: ReadonlySet<number> = new Set([...DIALOG_ID_HEADERS].map((n) => n.length));
/** URI headers of a Refer-To that carry a dialog (RFC 3891 7.1, RFC 3911 7.1). */
const EMBEDDED_HEADERS: ReadonlySet<string> = new Set(['replaces', 'join']);

/** Maps a Call-ID; undefined when it cannot be translated (too long to seal). */
type CallIdMap = (id: string) => string | undefined;

/**
 * A request from the outside going in: Call-IDs in Replaces, Join, Target-Dialog and a
 * Refer-To's embedded Replaces/Join as the inside knows them, and a Refer-To naming a URI
 * sipwarden sealed gets the original back. `isOwn` tells sipwarden's own URIs.
 */
export function restoreDialogRefs(
  msg: SipMessage,
  w: MessageWriter,
  topo: TopologyHider,
  isOwn: (uri: SipUri) => boolean,
): void {
  const map: CallIdMap = (id) => topo.insideCallId(id);
  const n = msg.headerCount;
  for (let k = 0; k < n; k++) {
    const id = msg.headerIdAt(k);
    if (id === H.ReferTo) {
      const value = rewriteReferTo(msg.headerValueAt(k), map, (uri, base) => {
        if (!isOwn(uri)) return base;
        const original = topo.openContact(uri.user);
        return original === undefined || original === 'forged-contact' ? base : original;
      });
      if (value !== undefined && value !== msg.headerValueAt(k)) w.replace(k, value);
    } else if (id === H.Other && isDialogIdHeader(msg, k)) {
      const value = msg.headerValueAt(k);
      const out = translateDialogId(value, map);
      if (out !== undefined && out !== value) w.replace(k, out);
    }
  }
}

/**
 * A request from the inside going out: Call-IDs in Replaces, Join, Target-Dialog and a
 * Refer-To's embedded Replaces/Join as the outside knows them, a Refer-To URI on an inside
 * host sealed, and a sipfrag body cut to its status line. False when a value is too long to
 * seal (the message must not leave unhidden).
 */
export function hideDialogRefs(
  msg: SipMessage,
  w: MessageWriter,
  topo: TopologyHider,
  own: OwnContact,
  isInternal: (host: string) => boolean,
): boolean {
  const map: CallIdMap = (id) => topo.callIdForOutside(id);
  const n = msg.headerCount;
  for (let k = 0; k < n; k++) {
    const id = msg.headerIdAt(k);
    if (id === H.ReferTo) {
      const value = rewriteReferTo(msg.headerValueAt(k), map, (uri, base) => {
        if (uri.scheme !== 'sip' && uri.scheme !== 'sips') return base;
        if (!isInternal(hostAddress(uri.host).toLowerCase())) return base;
        return topo.sealContactUri(base, own);
      });
      if (value === undefined) return false;
      if (value !== msg.headerValueAt(k)) w.replace(k, value);
    } else if (id === H.Other && isDialogIdHeader(msg, k)) {
      const value = msg.headerValueAt(k);
      const out = translateDialogId(value, map);
      if (out === undefined) return false;
      if (out !== value) w.replace(k, out);
    }
  }
  const type = msg.contentType;
  if (type !== undefined && isSipfrag(type)) {
    const body = msg.body.toString('latin1');
    const cut = sipfragStatusLine(body);
    if (cut !== body) w.setBody(Buffer.from(cut, 'latin1'));
  }
  return true;
}

function isDialogIdHeader(msg: SipMessage, k: number): boolean {
  const name = msg.headerNameAt(k);
  return DIALOG_ID_LENGTHS.has(name.length) && DIALOG_ID_HEADERS.has(name.toLowerCase());
}

/**
 * `callid *(;param)` with the Call-ID mapped; the value unchanged when it has no Call-ID,
 * undefined when the map fails.
 */
export function translateDialogId(value: string, map: CallIdMap): string | undefined {
  const semi = value.indexOf(';');
  const idEnd = semi === -1 ? value.length : semi;
  const id = value.slice(0, idEnd).trim();
  if (id === '') return value;
  const out = map(id);
  if (out === undefined) return undefined;
  return out === id ? value : out + value.slice(idEnd);
}

/**
 * A Refer-To value with the Call-IDs of its embedded Replaces/Join mapped and its URI (without
 * the URI headers) passed through `target`. Returns the value unchanged when it cannot be parsed,
 * undefined when a mapping fails.
 */
export function rewriteReferTo(
  value: string,
  map: CallIdMap,
  target: (uri: SipUri, base: string) => string | undefined,
): string | undefined {
  let uri: SipUri;
  try {
    uri = parseNameAddr(value, 0, value.length, 'Refer-To').uri;
  } catch (err) {
    if (err instanceof SipParseError) return value; // forwarded as it is, as before
    throw err;
  }
  const span = uriSpan(value, 0, value.length);
  const text = value.slice(span.start, span.end);
  const headers = uri.headers;
  const base = headers === undefined ? text : text.slice(0, text.length - headers.length - 1);
  const newBase = target(uri, base);
  if (newBase === undefined) return undefined;
  let newHeaders = headers;
  if (headers !== undefined) {
    const parts = headers.split('&');
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      const eq = part.indexOf('=');
      if (eq === -1 || !EMBEDDED_HEADERS.has(part.slice(0, eq).toLowerCase())) continue;
      const mapped = translateEscapedDialogId(part.slice(eq + 1), map);
      if (mapped === undefined) return undefined;
      parts[i] = part.slice(0, eq + 1) + mapped;
    }
    newHeaders = parts.join('&');
  }
  if (newBase === base && newHeaders === headers) return value;
  const uriOut = newHeaders === undefined ? newBase : `${newBase}?${newHeaders}`;
  // An addr-spec with URI headers is not allowed (RFC 3261 20.1): write a name-addr.
  const angled = value.charCodeAt(span.start - 1) === 0x3c;
  return angled
    ? value.slice(0, span.start) + uriOut + value.slice(span.end)
    : `${value.slice(0, span.start)}<${uriOut}>${value.slice(span.end)}`;
}

/**
 * The escaped value of an embedded Replaces/Join (`callid%3Bto-tag%3D..`) with its Call-ID
 * mapped; the rest kept byte for byte.
 */
function translateEscapedDialogId(escaped: string, map: CallIdMap): string | undefined {
  const m = /%3b|;/i.exec(escaped);
  const idEnd = m === null ? escaped.length : m.index;
  const id = unescapeHvalue(escaped.slice(0, idEnd));
  if (id === '') return escaped;
  const out = map(id);
  if (out === undefined) return undefined;
  return out === id ? escaped : escapeHvalue(out) + escaped.slice(idEnd);
}

/** %XX sequences decoded (Call-IDs are ASCII words; a lone % stays as it is). */
export function unescapeHvalue(s: string): string {
  return s.indexOf('%') === -1
    ? s
    : s.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

/** Characters an hvalue may carry unescaped (RFC 3261 25.1: hnv-unreserved / unreserved). */
const HVALUE_PLAIN = /[A-Za-z0-9\-_.!~*'()[\]/?:+$]/;

/** Escapes everything an hvalue may not carry as it is ('@' of a Call-ID becomes %40). */
export function escapeHvalue(s: string): string {
  let out = '';
  for (const ch of s) {
    if (HVALUE_PLAIN.test(ch)) out += ch;
    else for (const byte of Buffer.from(ch, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function isSipfrag(contentType: string): boolean {
  return /^\s*message\/sipfrag\s*(;|$)/i.test(contentType);
}

/**
 * A sipfrag cut to its status line (with CRLF), or empty when it does not start with one: the
 * transferor only needs the status of the new call (RFC 3515 2.4.5).
 */
export function sipfragStatusLine(body: string): string {
  const eol = body.indexOf('\n');
  const first = (eol === -1 ? body : body.slice(0, eol)).replace(/\r$/, '');
  return /^SIP\/2\.0 [1-6][0-9][0-9]( [^\r\n]*)?$/.test(first) ? `${first}\r\n` : '';
}
