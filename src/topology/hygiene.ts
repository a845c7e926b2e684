/**
 * Header hygiene of topology hiding: the header-level part of what a message must lose
 * before it crosses sipwarden, for one direction. Product banners (Server, User-Agent),
 * headers named in a remove list, asserted identities from untrusted sources and Warning
 * headers naming internal hosts. Pure: it reads a parsed SipMessage and records its
 * changes on a MessageWriter; it never adds a header.
 */

import { normalizeIp } from '../net/ip.js';
import { isToken } from '../sip/chars.js';
import { CANONICAL_NAMES, H, headerIdOf } from '../sip/header-names.js';
import type { SipMessage } from '../sip/message.js';
import { splitList } from '../sip/split.js';
import type { MessageWriter } from '../sip/writer.js';

/** What to do with a product banner header. */
export type BannerRule = 'keep' | 'remove' | { replace: string };

/** Hygiene for one direction (the lead maps configuration onto one of these per direction). */
export interface HygieneRules {
  /** Server and User-Agent on messages going out: keep, remove, or replace with this text. */
  server: BannerRule;
  userAgent: BannerRule;
  /** Header names (case-insensitive; a trailing `*` is a prefix, e.g. `X-*`) removed in this direction. */
  remove: readonly string[];
  /** Remove P-Asserted-Identity / P-Preferred-Identity when the message comes from an untrusted source. */
  stripAssertedIdentityFromUntrusted: boolean;
  /**
   * Remove Warning headers whose warn-agent names one of these hosts (internal hostnames/addresses;
   * a port or IPv6 brackets written with one are ignored).
   */
  internalHosts: readonly string[];
}

/** Per-message context. */
export interface HygieneContext {
  /** Whether the message comes from a trusted source (the PBX, a trusted peer). */
  fromTrusted: boolean;
}

/** Longest replacement text for Server / User-Agent. */
export const MAX_REPLACEMENT_LENGTH = 128;

/**
 * Headers a remove pattern may not name: without them the message cannot be routed or
 * framed. Contact, Route and Record-Route are rewritten by topology hiding, not removed.
 */
const PROTECTED: ReadonlySet<number> = new Set<number>([
  H.Via,
  H.From,
  H.To,
  H.CallId,
  H.CSeq,
  H.MaxForwards,
  H.ContentLength,
  H.ContentType,
  H.Contact,
  H.Route,
  H.RecordRoute,
]);

/** Action per known header id. */
enum Act {
  None = 0,
  Remove = 1,
  Server = 2,
  UserAgent = 3,
  Warning = 4,
}

/** Banner rule compiled: 0 keep, 1 remove, 2 replace with `text`. */
enum Banner {
  Keep = 0,
  Remove = 1,
  Replace = 2,
}

const ASSERTED_IDENTITY_NAMES = ['p-asserted-identity', 'p-preferred-identity'];

/**
 * HygieneRules precomputed for the per-message pass: an action per known header id, and
 * the lower-case bytes of the names of other headers to remove (exact and prefix) for a
 * byte comparison against the message, so a header that matches nothing costs an index
 * read and no allocation.
 */
export class CompiledHygiene {
  /** Act per header id (H); H.Other is looked up by name. */
  readonly byId: Uint8Array;
  /** Exact names of other headers to remove, lower-case bytes. */
  readonly exact: readonly Uint8Array[];
  /** Name prefixes of other headers to remove, lower-case bytes. */
  readonly prefixes: readonly Uint8Array[];
  /** P-Asserted-Identity / P-Preferred-Identity as lower-case bytes, removed when untrusted (else empty). */
  readonly untrustedOnly: readonly Uint8Array[];
  readonly server: Banner;
  readonly serverText: string;
  readonly userAgent: Banner;
  readonly userAgentText: string;
  /** Normalised internal hosts (lower-case names, canonical IP text). */
  readonly internalHosts: ReadonlySet<string>;
  /** Whether any rule can touch a message (false: applyHygiene returns at once). */
  readonly active: boolean;

  constructor(rules: HygieneRules) {
    const byId = new Uint8Array(H.Count);
    const exact: Uint8Array[] = [];
    const prefixes: Uint8Array[] = [];

    this.server = bannerKind(rules.server, 'server');
    this.serverText = bannerText(rules.server);
    this.userAgent = bannerKind(rules.userAgent, 'userAgent');
    this.userAgentText = bannerText(rules.userAgent);
    if (this.server !== Banner.Keep) byId[H.Server] = Act.Server;
    if (this.userAgent !== Banner.Keep) byId[H.UserAgent] = Act.UserAgent;

    const hosts = new Set<string>();
    for (const host of rules.internalHosts) {
      const h = normaliseHost(hostOfHostport(host.trim())); // a port written with it is ignored
      if (h === '') throw new RangeError(`hygiene: internal host ${JSON.stringify(host)} is empty`);
      hosts.add(h);
    }
    this.internalHosts = hosts;
    if (hosts.size > 0) byId[H.Warning] = Act.Warning;

    for (const pattern of rules.remove) {
      const isPrefix = pattern.endsWith('*');
      const name = (isPrefix ? pattern.slice(0, -1) : pattern).toLowerCase();
      if (name === '' || !isToken(name) || name.includes('*')) {
        throw new RangeError(`hygiene: remove pattern ${JSON.stringify(pattern)} is not a header name or Name-*`);
      }
      if (isPrefix) {
        // A prefix matches known headers too (full and compact spellings); protected ones never.
        for (let id = 1; id < H.Count; id++) {
          if (PROTECTED.has(id)) continue;
          if (CANONICAL_NAMES[id]!.toLowerCase().startsWith(name)) byId[id] = Act.Remove;
        }
        prefixes.push(Buffer.from(name, 'latin1'));
        continue;
      }
      const id = headerIdOf(name); // compact forms map to their header, so `s` and `subject` both remove it
      if (id === H.Other) {
        exact.push(Buffer.from(name, 'latin1'));
      } else if (PROTECTED.has(id)) {
        throw new RangeError(`hygiene: ${CANONICAL_NAMES[id]} cannot be removed, the message needs it`);
      } else {
        byId[id] = Act.Remove;
      }
    }
    this.byId = byId;
    this.exact = exact;
    this.prefixes = prefixes;
    this.untrustedOnly = rules.stripAssertedIdentityFromUntrusted
      ? ASSERTED_IDENTITY_NAMES.map((n) => Buffer.from(n, 'latin1'))
      : [];
    let any = exact.length > 0 || prefixes.length > 0 || this.untrustedOnly.length > 0;
    for (let id = 1; id < H.Count && !any; id++) any = byId[id] !== Act.None;
    this.active = any;
  }
}

/** Precomputes `rules` for applyHygiene; throws RangeError on a bad replacement text, pattern or host. */
export function compileHygiene(rules: HygieneRules): CompiledHygiene {
  return new CompiledHygiene(rules);
}

const compiledCache = new WeakMap<HygieneRules, CompiledHygiene>();

/**
 * Applies hygiene to one message: records removals and replacements on `w`. Returns how
 * many headers were changed (removed or rewritten). Pass a CompiledHygiene on hot paths;
 * plain rules are compiled once per rules object and cached.
 */
export function applyHygiene(
  msg: SipMessage,
  w: MessageWriter,
  rules: HygieneRules | CompiledHygiene,
  ctx: HygieneContext,
): number {
  const c = rules instanceof CompiledHygiene ? rules : cached(rules);
  if (!c.active) return 0;
  const byId = c.byId;
  const checkOthers = c.exact.length > 0 || c.prefixes.length > 0 || (!ctx.fromTrusted && c.untrustedOnly.length > 0);
  const n = msg.headerCount;
  let changed = 0;
  let serverSeen = false;
  let userAgentSeen = false;
  for (let k = 0; k < n; k++) {
    const id = msg.headerIdAt(k);
    if (id === H.Other) {
      if (checkOthers && otherMatches(msg, k, c, ctx.fromTrusted)) {
        w.remove(k);
        changed++;
      }
      continue;
    }
    const act = byId[id]!;
    if (act === Act.None) continue;
    if (act === Act.Remove) {
      w.remove(k);
      changed++;
    } else if (act === Act.Server) {
      changed += banner(msg, w, k, c.server, c.serverText, serverSeen);
      serverSeen = true;
    } else if (act === Act.UserAgent) {
      changed += banner(msg, w, k, c.userAgent, c.userAgentText, userAgentSeen);
      userAgentSeen = true;
    } else {
      changed += warning(msg, w, k, c.internalHosts);
    }
  }
  return changed;
}

function cached(rules: HygieneRules): CompiledHygiene {
  let c = compiledCache.get(rules);
  if (c === undefined) {
    c = new CompiledHygiene(rules);
    compiledCache.set(rules, c);
  }
  return c;
}

/** A banner header: removed, or replaced (the first; repeats are removed so one banner remains). */
function banner(msg: SipMessage, w: MessageWriter, k: number, kind: Banner, text: string, seen: boolean): number {
  if (kind === Banner.Remove || seen) {
    w.remove(k);
    return 1;
  }
  if (msg.headerValueAt(k) === text) return 0;
  w.replace(k, text);
  return 1;
}

/** Whether header `k` (an unknown name) is to be removed: compares its name's octets, no allocation. */
function otherMatches(msg: SipMessage, k: number, c: CompiledHygiene, fromTrusted: boolean): boolean {
  const buf = msg.buf;
  const a = msg.headerStartAt(k);
  const len = msg.nameEndAt(k) - a;
  const exact = c.exact;
  for (let i = 0; i < exact.length; i++) if (nameEquals(buf, a, len, exact[i]!)) return true;
  const prefixes = c.prefixes;
  for (let i = 0; i < prefixes.length; i++) {
    const p = prefixes[i]!;
    if (p.length <= len && nameEquals(buf, a, p.length, p)) return true;
  }
  if (!fromTrusted) {
    const names = c.untrustedOnly;
    for (let i = 0; i < names.length; i++) if (nameEquals(buf, a, len, names[i]!)) return true;
  }
  return false;
}

/** Case-insensitive comparison of buf[a, a+len) with lower-case `name`. */
function nameEquals(buf: Buffer, a: number, len: number, name: Uint8Array): boolean {
  if (len !== name.length) return false;
  for (let i = 0; i < len; i++) {
    let b = buf[a + i]!;
    if (b >= 0x41 && b <= 0x5a) b |= 0x20;
    if (b !== name[i]) return false;
  }
  return true;
}

/**
 * A Warning header (RFC 3261 20.43: warning-value *(COMMA warning-value), each
 * `warn-code SP warn-agent SP warn-text`): removed when every value's warn-agent is an
 * internal host, rewritten without those values when only some are. A value that does not
 * parse is kept as it is.
 */
function warning(msg: SipMessage, w: MessageWriter, k: number, hosts: ReadonlySet<string>): number {
  const value = msg.headerValueAt(k);
  const parts = splitList(value);
  let internal = 0;
  const keep: string[] = [];
  for (const [a, b] of parts) {
    const host = warnAgentHost(value, a, b);
    if (host !== '' && hosts.has(host)) internal++;
    else if (b > a) keep.push(value.slice(a, b));
  }
  if (internal === 0) return 0;
  if (keep.length === 0) w.remove(k);
  else w.replace(k, keep.join(', '));
  return 1;
}

/** Host of the warn-agent of the warning-value s[a, b), normalised; '' when it does not parse. */
function warnAgentHost(s: string, a: number, b: number): string {
  // warn-code: 3DIGIT
  let i = a;
  while (i < b && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39) i++;
  if (i - a !== 3) return '';
  const sp = i;
  while (i < b && isWs(s.charCodeAt(i))) i++;
  if (i === sp) return '';
  const start = i;
  while (i < b && !isWs(s.charCodeAt(i)) && s.charCodeAt(i) !== 0x22) i++;
  if (i === start) return '';
  return normaliseHost(hostOfHostport(s.slice(start, i)));
}

/** `host[:port]`, `[v6][:port]` or a bare IPv6 literal -> the host, without brackets. */
function hostOfHostport(hp: string): string {
  if (hp.charCodeAt(0) === 0x5b) {
    const close = hp.indexOf(']');
    return close < 0 ? '' : hp.slice(1, close);
  }
  const colon = hp.indexOf(':');
  if (colon < 0) return hp;
  if (hp.indexOf(':', colon + 1) >= 0) return hp; // several colons: an unbracketed IPv6 address
  return hp.slice(0, colon);
}

/** Lower-case host name, or canonical IP text (IPv6 in RFC 5952 form, brackets dropped). */
function normaliseHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.')) h = h.slice(0, -1); // FQDN written with its root dot
  try {
    return normalizeIp(h);
  } catch {
    return h;
  }
}

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

function bannerKind(rule: BannerRule, field: string): Banner {
  if (rule === 'keep') return Banner.Keep;
  if (rule === 'remove') return Banner.Remove;
  if (typeof rule !== 'object' || rule === null || typeof rule.replace !== 'string') {
    throw new RangeError(`hygiene: ${field} must be 'keep', 'remove' or { replace: text }`);
  }
  checkReplacement(rule.replace, field);
  return Banner.Replace;
}

function bannerText(rule: BannerRule): string {
  return typeof rule === 'object' ? rule.replace : '';
}

/**
 * Replacement text is written into forwarded messages: one line of printable text, short,
 * and never naming sipwarden (hiding the PBX's product must not advertise the proxy's).
 * Returns what is wrong with it, or undefined.
 */
export function bannerTextError(text: string): string | undefined {
  if (text.trim() === '') return "replacement text is empty (use 'remove')";
  if (text.length > MAX_REPLACEMENT_LENGTH)
    return `replacement text is longer than ${MAX_REPLACEMENT_LENGTH} characters`;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0d || c === 0x0a) return 'replacement text holds CR or LF';
    if (c < 0x20 || c === 0x7f || (c >= 0x80 && c < 0xa0)) return 'replacement text holds a control character';
  }
  if (text !== text.trim()) return 'replacement text starts or ends with spaces';
  if (/sipwarden/i.test(text)) return 'replacement text names sipwarden';
  return undefined;
}

function checkReplacement(text: string, field: string): void {
  const problem = bannerTextError(text);
  if (problem !== undefined) throw new RangeError(`hygiene: ${field} ${problem}`);
}
