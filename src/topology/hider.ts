/**
 * Topology hiding: what the proxy does to a message's routing headers as it crosses from
 * the inside (upstream PBXs, trusted hops) to the outside and back. Internal values are
 * sealed into tokens (token.ts) that only a sipwarden holding the key can open; each token
 * names its kind, so a token lifted from one header is refused in another.
 *
 * Going out:
 * - Via: every Via below sipwarden's own (the PBX's and internal proxies') is folded into one
 *   `tv` parameter of sipwarden's Via; responses bring it back and it is unfolded.
 * - Record-Route: the inside's entries (and sipwarden's inside-facing one, after a double
 *   Record-Route) are folded into a `tr` parameter of sipwarden's outside entry; in-dialog
 *   requests bring it back in their Route, and responses from the outside in their
 *   Record-Route.
 * - Contact: each inside URI becomes `sip:<token>@<sipwarden>`; a request that targets it
 *   (Request-URI) gets the original back.
 * - Call-ID (optional): a Call-ID made on the inside goes out as a token. A Call-ID made on
 *   the outside is marked with a short keyed suffix on its way in, so that when the inside
 *   uses it again (a BYE, a NOTIFY) sipwarden recognises it and takes the suffix off instead
 *   of sealing it.
 */
import { hash53 } from '../net/hash.js';
import { SipParseError } from '../sip/errors.js';
import { H } from '../sip/header-names.js';
import type { SipMessage } from '../sip/message.js';
import { parseNameAddr } from '../sip/name-addr.js';
import { quotedStringEnd, skipLws } from '../sip/params.js';
import { firstElementEnd, splitList } from '../sip/split.js';
import { hostAddress, type SipUri } from '../sip/uri.js';
import { parseVia, type Via } from '../sip/via.js';
import type { MessageWriter } from '../sip/writer.js';
import type { CompiledHygiene } from './hygiene.js';
import { looksLikeToken, type TopologyTokens } from './token.js';

/** Via parameter holding the folded Vias. */
export const VIA_PARAM = 'tv';
/** Record-Route / Route URI parameter holding the folded route entries. */
export const ROUTE_PARAM = 'tr';

/** Kind prefixes sealed with each value: a token only opens in the header it was made for. */
const KIND_VIA = 'v';
const KIND_ROUTE = 'r';
const KIND_CONTACT = 'c';
const KIND_CALL_ID = 'i';

/** Separator and length of the mark on outside Call-IDs (base32 of 40 bits of HMAC). */
const MARK_SEPARATOR = '~';
const MARK_LENGTH = 8;
const MARK_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const MARK_MODULUS = 2 ** (5 * MARK_LENGTH);
/**
 * The mark is not keyed: it must stay the same across key rotations and on every instance (the
 * PBX keeps the marked Call-ID for the whole dialog), and it never leaves for the outside, so
 * there is nothing to forge; it only keeps the PBX's own Call-IDs from looking marked by accident.
 */
const MARK_SEED = 0x5e1f_7a11;

export interface TopologyHiderOptions {
  /** Hide Call-IDs made on the inside. */
  callId: boolean;
  /** Hygiene of messages going out (to phones, trunks, the internet). */
  out: CompiledHygiene;
  /** Hygiene of messages going in (to the PBX). */
  in: CompiledHygiene;
  /** Hostnames and addresses of the inside (upstream targets as configured, `internal_hosts`). */
  internalHosts: readonly string[];
}

/** Why a message was refused: a token that does not open (forged, modified, or too old). */
export type HideFailure = 'forged-via' | 'forged-route' | 'forged-contact' | 'too-long';

/** Where sipwarden's own listener is, as written in a Contact it hands out. */
export interface OwnContact {
  /** `host:port` as advertised. */
  hostPort: string;
  /** `;transport=tcp` or empty. */
  transportParam: string;
}

export class TopologyHider {
  /** Lower-case inside hosts as text, for a cheap look at a header before parsing it. */
  private readonly internalTexts: readonly string[];
  private readonly internal: ReadonlySet<string>;

  constructor(
    private readonly tokens: TopologyTokens,
    readonly options: TopologyHiderOptions,
  ) {
    this.internal = new Set(options.internalHosts.map((h) => hostAddress(h.trim()).toLowerCase().replace(/\.$/, '')));
    this.internalTexts = [...this.internal];
  }

  /** Whether a host (lower case, no brackets) is one of the configured inside hosts. */
  isInternalHost(host: string): boolean {
    return this.internal.has(host);
  }

  // ---- Via --------------------------------------------------------------------------------

  /**
   * The token of all Via values of a request from the inside (the first line as it will be
   * forwarded, with received/rport stamped). Removes those Via lines from `w`; the caller
   * writes its own Via with `;tv=<token>`. Undefined when they are too long to seal.
   */
  foldVias(msg: SipMessage, w: MessageWriter, firstLine: string): string | undefined {
    let all = firstLine;
    w.remove(msg.viaAt);
    for (let k = msg.findHeaderId(H.Via, msg.viaAt + 1); k !== -1; k = msg.findHeaderId(H.Via, k + 1)) {
      all += `, ${msg.headerValueAt(k).trim()}`;
      w.remove(k);
    }
    return this.seal(KIND_VIA, all);
  }

  /**
   * Opens the `tv` parameter of sipwarden's Via on a response from the outside. Returns the
   * Via values to put back (one header value) and the first of them parsed, or a failure.
   */
  unfoldVias(token: string): { value: string; next: Via } | HideFailure {
    const value = this.open(KIND_VIA, token);
    if (value === undefined) return 'forged-via';
    try {
      return { value, next: parseVia(value, 0, firstElementEnd(value)) };
    } catch (err) {
      if (err instanceof SipParseError) return 'forged-via';
      throw err;
    }
  }

  // ---- Record-Route / Route ---------------------------------------------------------------

  /** Token for route entries (in Route order); undefined when there are none or too many. */
  sealRoutes(entries: readonly string[]): string | undefined {
    return entries.length === 0 ? undefined : this.seal(KIND_ROUTE, entries.join(', '));
  }

  /** The route entries a `tr` token stands for, in Route order, or undefined when forged. */
  openRoutes(token: string): string[] | undefined {
    const value = this.open(KIND_ROUTE, token);
    if (value === undefined) return undefined;
    return splitList(value).map(([a, b]) => value.slice(a, b));
  }

  /**
   * A response from the inside: everything in Record-Route above sipwarden's outside entry
   * (the last of sipwarden's own entries) is internal. It is removed, and sealed in Route order
   * (the reverse, as the outside UAC will use it) into a `tr` parameter of that entry.
   * Returns false when the entries cannot be sealed.
   */
  hideResponseRecordRoute(msg: SipMessage, w: MessageWriter, isOwn: (uri: SipUri) => boolean): boolean {
    if (msg.findHeaderId(H.RecordRoute) === -1) return true;
    const entries = collectEntries(msg, H.RecordRoute);
    // Commonly sipwarden's entry is the top one: nothing internal above it.
    if (isOwn(parseNameAddr(entries[0]!, 0, entries[0]!.length, 'Record-Route').uri)) {
      let more = false;
      for (let i = 1; i < entries.length && !more; i++) {
        more = isOwn(parseNameAddr(entries[i]!, 0, entries[i]!.length, 'Record-Route').uri);
      }
      if (!more) return true;
    }
    let own = -1;
    for (let i = entries.length - 1; i >= 0; i--) {
      if (isOwn(parseNameAddr(entries[i]!, 0, entries[i]!.length, 'Record-Route').uri)) {
        own = i;
        break;
      }
    }
    if (own <= 0) return true; // nothing above it (or not record-routed by sipwarden)
    const above = entries.slice(0, own).reverse();
    const token = this.sealRoutes(above);
    if (token === undefined) return false;
    const outer = withUriParam(entries[own]!, ROUTE_PARAM, token);
    replaceAll(msg, w, H.RecordRoute, [outer, ...entries.slice(own + 1)]);
    return true;
  }

  /**
   * A response from the outside: the entry sipwarden handed out with a `tr` parameter gets
   * the entries it stands for back below it. False when the token is forged.
   */
  restoreResponseRecordRoute(msg: SipMessage, w: MessageWriter, isOwn: (uri: SipUri) => boolean): boolean {
    if (msg.findHeaderId(H.RecordRoute) === -1) return true;
    const entries = collectEntries(msg, H.RecordRoute);
    let changed = false;
    const out: string[] = [];
    for (const e of entries) {
      out.push(e);
      const na = parseNameAddr(e, 0, e.length, 'Record-Route');
      const token = na.uri.params.get(ROUTE_PARAM);
      if (token === undefined || token === null || !isOwn(na.uri)) continue;
      const restored = this.openRoutes(token);
      if (restored === undefined) return false;
      out.push(...restored);
      changed = true;
    }
    if (changed) replaceAll(msg, w, H.RecordRoute, out);
    return true;
  }

  // ---- Contact ----------------------------------------------------------------------------

  /**
   * Replaces the URI of every Contact by `sip:<token>@<sipwarden>`, keeping display names and
   * header parameters (expires, q, +sip.instance). Returns false when a URI cannot be sealed.
   */
  hideContacts(msg: SipMessage, w: MessageWriter, own: OwnContact): boolean {
    for (let k = msg.findHeaderId(H.Contact); k !== -1; k = msg.findHeaderId(H.Contact, k + 1)) {
      const value = msg.headerValueAt(k);
      if (value.trim() === '*') continue;
      const parts: string[] = [];
      for (const [a, b] of splitList(value)) {
        const span = uriSpan(value, a, b);
        const sealed = this.sealContactUri(value.slice(span.start, span.end), own);
        if (sealed === undefined) return false;
        parts.push(`<${sealed}>${value.slice(span.after, b)}`);
      }
      w.replace(k, parts.join(', '));
    }
    return true;
  }

  /**
   * An inside URI as the outside may use it: `sip:<token>@<sipwarden>`, which a request
   * targeting it (Request-URI) opens again. Undefined when the URI is too long to seal.
   */
  sealContactUri(uri: string, own: OwnContact): string | undefined {
    const token = this.seal(KIND_CONTACT, uri);
    return token === undefined ? undefined : `sip:${token}@${own.hostPort}${own.transportParam}`;
  }

  /**
   * A Contact sipwarden handed out, coming back in a response from the outside (a registrar
   * echoing the PBX's bindings): the original URIs are put back. False when forged.
   */
  restoreContacts(msg: SipMessage, w: MessageWriter, isOwn: (uri: SipUri) => boolean): boolean {
    for (let k = msg.findHeaderId(H.Contact); k !== -1; k = msg.findHeaderId(H.Contact, k + 1)) {
      const value = msg.headerValueAt(k);
      if (value.trim() === '*') continue;
      let changed = false;
      const parts: string[] = [];
      for (const [a, b] of splitList(value)) {
        const na = parseNameAddr(value, a, b, 'Contact');
        const user = na.uri.user;
        if (user === undefined || !looksLikeToken(user) || !isOwn(na.uri)) {
          parts.push(value.slice(a, b));
          continue;
        }
        const uri = this.open(KIND_CONTACT, user);
        if (uri === undefined) return false;
        const span = uriSpan(value, a, b);
        parts.push(`<${uri}>${value.slice(span.after, b)}`);
        changed = true;
      }
      if (changed) w.replace(k, parts.join(', '));
    }
    return true;
  }

  /**
   * The original URI behind a Request-URI (or Route) user part that is a contact token,
   * undefined when `user` is not one, or 'forged-contact' when it looks like one but does not open.
   */
  openContact(user: string | undefined): string | undefined | 'forged-contact' {
    if (user === undefined || !looksLikeToken(user)) return undefined;
    return this.open(KIND_CONTACT, user) ?? 'forged-contact';
  }

  // ---- identities ------------------------------------------------------------------------

  /**
   * From, To and the identity headers name the PBX by address (`sip:100@10.0.0.5:5060`): an
   * internal host there is replaced by sipwarden's own host and port. Not restored on the way
   * back: dialogs are matched by Call-ID and tags (RFC 3261 12.2.2), never by these URIs.
   */
  hideIdentityHosts(
    msg: SipMessage,
    w: MessageWriter,
    ownHostPort: string,
    isInternal: (host: string) => boolean,
  ): void {
    // From and To: parsed only when the text names an inside host at all.
    if (msg.fromAt !== -1 && this.mentionsInside(msg.headerValueAt(msg.fromAt), ownHostPort)) {
      if (isInternal(hostAddress(msg.from.uri.host).toLowerCase())) {
        this.rewriteIdentityLine(msg, w, msg.fromAt, 'From', ownHostPort, isInternal);
      }
    }
    if (msg.toAt !== -1 && this.mentionsInside(msg.headerValueAt(msg.toAt), ownHostPort)) {
      if (isInternal(hostAddress(msg.to.uri.host).toLowerCase())) {
        this.rewriteIdentityLine(msg, w, msg.toAt, 'To', ownHostPort, isInternal);
      }
    }
    const n = msg.headerCount;
    for (let k = 0; k < n; k++) {
      const id = msg.headerIdAt(k);
      if (id === H.ReferredBy) {
        if (this.mentionsInside(msg.headerValueAt(k), ownHostPort)) {
          this.rewriteIdentityLine(msg, w, k, 'Referred-By', ownHostPort, isInternal);
        }
      } else if (id === H.Other) {
        const name = msg.headerNameAt(k);
        if (
          OTHER_IDENTITY_LENGTHS.has(name.length) &&
          OTHER_IDENTITY_HEADERS.has(name.toLowerCase()) &&
          this.mentionsInside(msg.headerValueAt(k), ownHostPort)
        ) {
          this.rewriteIdentityLine(msg, w, k, name, ownHostPort, isInternal);
        }
      }
    }
  }

  /**
   * Whether a header value contains one of the inside hosts' text (case-insensitive for names),
   * other than as part of sipwarden's own host and port (the PBX may share sipwarden's address).
   */
  private mentionsInside(value: string, ownHostPort: string): boolean {
    const texts = this.internalTexts;
    if (texts.length === 0) return false;
    let lower = value.toLowerCase();
    let hit = false;
    for (let i = 0; i < texts.length && !hit; i++) hit = lower.includes(texts[i]!);
    if (!hit || !lower.includes(ownHostPort)) return hit;
    lower = lower.split(ownHostPort).join(' ');
    for (let i = 0; i < texts.length; i++) if (lower.includes(texts[i]!)) return true;
    return false;
  }

  private rewriteIdentityLine(
    msg: SipMessage,
    w: MessageWriter,
    k: number,
    name: string,
    ownHostPort: string,
    isInternal: (host: string) => boolean,
  ): void {
    const value = msg.headerValueAt(k);
    let changed = false;
    const parts: string[] = [];
    for (const [a, b] of splitList(value)) {
      const element = value.slice(a, b);
      const rewritten = rewriteInternalHost(element, name, ownHostPort, isInternal);
      parts.push(rewritten ?? element);
      if (rewritten !== undefined) changed = true;
    }
    if (changed) w.replace(k, parts.join(', '));
  }

  // ---- Call-ID ----------------------------------------------------------------------------

  /** Call-ID of a message going out: an outside Call-ID loses its mark, an inside one is sealed. */
  callIdOut(msg: SipMessage, w: MessageWriter): boolean {
    if (!this.options.callId) return true;
    const out = this.callIdForOutside(msg.callId);
    if (out === undefined) return false;
    w.replace(msg.callIdAt, out);
    return true;
  }

  /**
   * A Call-ID of the inside as the outside knows it: an outside Call-ID without its mark, an
   * inside one sealed (undefined when too long to seal). The Call-ID header and the headers
   * that name a dialog by its Call-ID (Replaces, Join, Target-Dialog) go out the same way.
   */
  callIdForOutside(id: string): string | undefined {
    if (!this.options.callId) return id;
    if (this.isMarked(id)) return id.slice(0, id.length - MARK_LENGTH - 1);
    return this.seal(KIND_CALL_ID, id);
  }

  /**
   * The Call-ID as the inside knows it (a token opened, a mark kept), so that a request has
   * the same Call-ID for loop detection on either side of sipwarden.
   */
  insideCallId(id: string): string {
    if (!this.options.callId) return id;
    if (looksLikeToken(id)) {
      const plain = this.open(KIND_CALL_ID, id);
      if (plain !== undefined) return plain;
    }
    return this.isMarked(id) ? id : id + this.mark(id);
  }

  /** The Call-ID as the outside knows it: a valid mark taken off (inside Call-IDs are returned as they are). */
  outsideCallId(id: string): string {
    return this.options.callId && this.isMarked(id) ? id.slice(0, id.length - MARK_LENGTH - 1) : id;
  }

  private isMarked(id: string): boolean {
    const sep = id.length - MARK_LENGTH - 1;
    return sep > 0 && id.charCodeAt(sep) === 0x7e && id.endsWith(this.mark(id.slice(0, sep)));
  }

  /** Call-ID of a message coming in: a token is opened, anything else is marked as the outside's. */
  callIdIn(msg: SipMessage, w: MessageWriter, inside: string = this.insideCallId(msg.callId)): void {
    if (inside !== msg.callId) w.replace(msg.callIdAt, inside);
  }

  // ---- header hygiene ---------------------------------------------------------------------

  get outHygiene(): CompiledHygiene {
    return this.options.out;
  }

  get inHygiene(): CompiledHygiene {
    return this.options.in;
  }

  // ---- sealing ----------------------------------------------------------------------------

  private seal(kind: string, value: string): string | undefined {
    try {
      return this.tokens.encode(kind + value);
    } catch (err) {
      if (err instanceof RangeError) return undefined; // over the size bound, or unpaired surrogates
      throw err;
    }
  }

  private open(kind: string, token: string): string | undefined {
    const plain = this.tokens.decode(token);
    if (plain === undefined || plain.charAt(0) !== kind) return undefined;
    return plain.slice(1);
  }

  /** `~` and 8 base32 characters of a hash of the outside Call-ID (1 in 2^40 to look marked by accident). */
  private mark(id: string): string {
    let bits = hash53(id, MARK_SEED) % MARK_MODULUS;
    let s = '';
    for (let i = 0; i < MARK_LENGTH; i++) {
      s = MARK_ALPHABET[bits % 32]! + s;
      bits = Math.floor(bits / 32);
    }
    return MARK_SEPARATOR + s;
  }
}

/**
 * Headers besides From, To and Referred-By whose name-addrs name a party, where a PBX writes
 * its own address (lower case; they have no compact form).
 */
const OTHER_IDENTITY_HEADERS: ReadonlySet<string> = new Set([
  'p-asserted-identity',
  'p-preferred-identity',
  'remote-party-id',
  'diversion',
  'history-info',
]);
const OTHER_IDENTITY_LENGTHS: ReadonlySet<number> = new Set([...OTHER_IDENTITY_HEADERS].map((n) => n.length));

/** One name-addr with an internal host replaced by `ownHostPort`, or undefined when unchanged. */
function rewriteInternalHost(
  element: string,
  what: string,
  ownHostPort: string,
  isInternal: (host: string) => boolean,
): string | undefined {
  let host: string;
  let hasUser: boolean;
  try {
    const na = parseNameAddr(element, 0, element.length, what);
    if (na.uri.scheme !== 'sip' && na.uri.scheme !== 'sips') return undefined;
    host = na.uri.host;
    hasUser = na.uri.user !== undefined;
  } catch (err) {
    if (err instanceof SipParseError) return undefined;
    throw err;
  }
  if (!isInternal(hostAddress(host).toLowerCase())) return undefined;
  const span = uriSpan(element, 0, element.length);
  const uri = element.slice(span.start, span.end);
  const colon = uri.indexOf(':');
  const at = hasUser ? uri.indexOf('@') : -1;
  const hostStart = at === -1 ? colon + 1 : at + 1;
  if (uri.slice(hostStart, hostStart + host.length).toLowerCase() !== host.toLowerCase()) return undefined;
  let hostEnd = hostStart + host.length;
  if (uri.charCodeAt(hostEnd) === 0x3a) {
    hostEnd++;
    while (hostEnd < uri.length && uri.charCodeAt(hostEnd) >= 0x30 && uri.charCodeAt(hostEnd) <= 0x39) hostEnd++;
  }
  if (uri.slice(hostStart, hostEnd) === ownHostPort) return undefined; // names sipwarden already
  const out = uri.slice(0, hostStart) + ownHostPort + uri.slice(hostEnd);
  return element.slice(0, span.start) + out + element.slice(span.end);
}

/** Every element of every header line with this id, as text, in order. */
function collectEntries(msg: SipMessage, id: number): string[] {
  const out: string[] = [];
  for (let k = msg.findHeaderId(id); k !== -1; k = msg.findHeaderId(id, k + 1)) {
    const value = msg.headerValueAt(k);
    for (const [a, b] of splitList(value)) out.push(value.slice(a, b));
  }
  return out;
}

/** Writes `entries` as the one line of header `id` (at the first line's place); removes the others. */
function replaceAll(msg: SipMessage, w: MessageWriter, id: number, entries: readonly string[]): void {
  let first = true;
  for (let k = msg.findHeaderId(id); k !== -1; k = msg.findHeaderId(id, k + 1)) {
    if (first && entries.length > 0) w.replace(k, entries.join(', '));
    else w.remove(k);
    first = false;
  }
}

/**
 * Where the URI of one name-addr / addr-spec element s[a, b) is: [start, end) of the URI and
 * the index where the header parameters begin. The element was validated by the parser.
 */
export function uriSpan(s: string, a: number, b: number): { start: number; end: number; after: number } {
  let i = skipLws(s, a, b);
  if (s.charCodeAt(i) === 0x22) {
    const q = quotedStringEnd(s, i, b);
    i = q === -1 ? i : q;
  }
  const lt = s.indexOf('<', i);
  if (lt !== -1 && lt < b) {
    const gt = s.indexOf('>', lt + 1);
    return { start: lt + 1, end: gt, after: gt + 1 };
  }
  // addr-spec: the URI ends at the first ';' (its parameters are the header's).
  const semi = s.indexOf(';', i);
  const end = semi === -1 || semi > b ? b : semi;
  return { start: i, end, after: end };
}

/** Adds `;name=value` to the URI inside an element's angle brackets (or after an addr-spec). */
function withUriParam(entry: string, name: string, value: string): string {
  const gt = entry.indexOf('>');
  if (gt === -1) return `<${entry};${name}=${value}>`;
  return `${entry.slice(0, gt)};${name}=${value}${entry.slice(gt)}`;
}
