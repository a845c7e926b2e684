/**
 * URI equivalence, RFC 3261 19.1.4 (sip, sips) and RFC 3966 4 (tel): what "the same URI"
 * means when two URIs may be written differently, e.g. the digest `uri` parameter and the
 * Request-URI (RFC 3261 22.4, RFC 7616 3.4.6).
 */
import { isIPv6 } from 'node:net';
import type { Params } from './params.js';
import { hostAddress, type SipUri } from './uri.js';

/** URI parameters that must be in both URIs or in neither (RFC 3261 19.1.4). */
const MUST_MATCH = ['user', 'ttl', 'method', 'maddr'];
/** RFC 3966 visual separators, ignored when comparing numbers. */
const VISUAL = /[-.()]/g;
const ESCAPE = /%([0-9A-Fa-f]{2})/g;

/**
 * True when `a` and `b` designate the same resource under RFC 3261 19.1.4:
 *
 * - sip and sips never match each other; user and password compare case-sensitively after
 *   %-decoding, everything else case-insensitively (`%41` and `A` are the same character);
 * - user, password, host and port must all match; an absent port does not match an explicit
 *   one, even 5060;
 * - a parameter present in both must have the same value; `user`, `ttl`, `method` and `maddr`
 *   must be in both or neither; any other parameter present in only one is ignored
 *   (`;transport=udp` added by a client does not make another URI);
 * - URI headers are never ignored.
 *
 * tel URIs (RFC 3966 4) match when their numbers match without visual separators and their
 * parameters are the same. Other schemes match only as written.
 */
export function urisEquivalent(a: SipUri, b: SipUri): boolean {
  if (a.scheme !== b.scheme) return false;
  if (a.scheme === 'tel') return telEquivalent(a, b);
  if (a.scheme !== 'sip' && a.scheme !== 'sips') return a.opaque === b.opaque;
  if (!sameOptional(a.user, b.user, false)) return false;
  if (!sameOptional(a.password, b.password, false)) return false;
  if (!sameHost(a.host, b.host)) return false;
  if (a.port !== b.port) return false;
  if (!sameParams(a.params, b.params)) return false;
  return headersOf(a.headers) === headersOf(b.headers);
}

function telEquivalent(a: SipUri, b: SipUri): boolean {
  const na = percentDecoded(a.user ?? '')
    .replace(VISUAL, '')
    .toLowerCase();
  const nb = percentDecoded(b.user ?? '')
    .replace(VISUAL, '')
    .toLowerCase();
  if (na !== nb || a.params.size !== b.params.size) return false;
  for (const [name, value] of a.params.entries()) {
    if (!b.params.has(name)) return false;
    if (!sameOptional(value ?? undefined, b.params.get(name) ?? undefined, true)) return false;
  }
  return true;
}

function sameParams(a: Params, b: Params): boolean {
  for (const name of MUST_MATCH) if (a.has(name) !== b.has(name)) return false;
  for (const [name, value] of a.entries()) {
    const other = b.get(name);
    if (other === undefined) continue;
    if (!sameOptional(value ?? undefined, other ?? undefined, true)) return false;
  }
  return true;
}

function sameHost(a: string, b: string): boolean {
  const ha = hostAddress(a).toLowerCase();
  const hb = hostAddress(b).toLowerCase();
  if (ha === hb) return true;
  // IPv6 references written differently ([::1] and [0:0::1]) are one address.
  return a.charCodeAt(0) === 0x5b && b.charCodeAt(0) === 0x5b && isIPv6(ha) && isIPv6(hb) && v6(ha) === v6(hb);
}

/** The eight groups of an IPv6 address, expanded (for comparison only). */
function v6(address: string): string {
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const h = head === '' || head === undefined ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => (g.includes('.') ? g : Number.parseInt(g, 16).toString(16))).join(':');
}

function sameOptional(a: string | undefined, b: string | undefined, caseless: boolean): boolean {
  if (a === undefined || b === undefined) return a === b;
  const ua = percentDecoded(a);
  const ub = percentDecoded(b);
  return caseless ? ua.toLowerCase() === ub.toLowerCase() : ua === ub;
}

/** URI headers as a set: `a=1&b=2` is `b=2&a=1`; names case-insensitive. */
function headersOf(h: string | undefined): string {
  if (h === undefined) return '';
  return h
    .split('&')
    .map((p) => {
      const eq = p.indexOf('=');
      const name = percentDecoded(eq === -1 ? p : p.slice(0, eq)).toLowerCase();
      return eq === -1 ? name : `${name}=${percentDecoded(p.slice(eq + 1))}`;
    })
    .sort()
    .join('&');
}

/** %HH decoded to the octet it stands for (one character per octet). */
export function percentDecoded(s: string): string {
  return s.indexOf('%') === -1
    ? s
    : s.replace(ESCAPE, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}
