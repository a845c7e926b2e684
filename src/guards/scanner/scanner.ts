/**
 * The scanner guard: recognises scanning and attack tools by what they put in a message.
 *
 * Signals (SCANNER_SIGNALS), each with its configured action:
 * - `user_agent`: User-Agent (requests) or Server (responses) matches `userAgents`, or the
 *   From display name is one SIPVicious' svmap writes by default (`"sipvicious"`);
 * - `sql_injection`, `shell_metacharacters`: in the digest username of every Authorization
 *   and Proxy-Authorization and in the user part of From, To and the Request-URI (see
 *   injection.ts for the rules);
 * - `overlong_value`: a value the scanner inspects is longer than it reads, so that what
 *   follows could hide from it: a name holding a character injection needs beyond
 *   INSPECT_LIMIT, a User-Agent or SDP session name beyond REGEX_INPUT_LIMIT when a
 *   `/regex/` pattern is configured;
 * - `ip_literal_host`: the host of From or To is an IP address that is neither sipwarden's
 *   own nor trusted;
 * - `record_route_spoofing`: a request from this (untrusted) source carries a Record-Route
 *   naming sipwarden itself or a trusted address;
 * - `record_route_foreign`: the top Record-Route of a request names another host than the
 *   address it came from (the last proxy record-routes itself, RFC 3261 16.6 step 4), and
 *   not one of `recordRouteHosts`;
 * - `record_route_register`: a REGISTER carries Record-Route (meaningless there, RFC 3261
 *   10.2; a registrar's edge proxy uses Path, RFC 3327);
 * - `sdp_session_name`: the `s=` line of an SDP body matches `sdpSessionNames`.
 *
 * Several signals in one message: the strongest action wins (ban > honeypot > reply > drop
 * > score). `score` signals add their points to the source's score, each at most once per
 * window; reaching `scoreThreshold` bans the source (rule `score`). A source is its address
 * masked as `sources.*` says (an IPv6 /64 by default), as for every guard and ban.
 *
 * Only the User-Agent and SDP signals look at responses: the From, To and Record-Route of
 * a response echo a request that came from elsewhere (an outside UAS copies sipwarden's own
 * Record-Route into its 200 OK, as RFC 3261 12.1.1 says it must).
 *
 * The guard never throws. A From, To or Request-URI that does not decode is read leniently
 * for the injection signals (an attacker's `<sip:' or 1=1--@;transport=UDP>` is not a
 * valid URI) and skipped by the others; the sanity guard answers for malformed headers.
 *
 * Nothing is left unread behind a count: every Record-Route entry, every User-Agent and
 * credentials line is inspected. The parser bounds how many there are (`maxListEntries`,
 * default 64 per header), which also bounds the guard's work.
 *
 * On a message that triggers nothing, nothing is allocated beyond the From/To/Request-URI
 * decoding the proxy needs anyway: patterns are matched on the octets in place.
 */
import { PASS, type ReplySpec, type Source, type Verdict } from '../../core/verdict.js';
import { CidrSet, normalizeIp } from '../../net/cidr.js';
import type { SourceKeys } from '../../net/source-key.js';
import { parseAuthHeader } from '../../sip/digest.js';
import { SipParseError } from '../../sip/errors.js';
import { H } from '../../sip/header-names.js';
import type { SipMessage } from '../../sip/message.js';
import { type NameAddr, unquote } from '../../sip/name-addr.js';
import { hostAddress } from '../../sip/uri.js';
import type { GuardReplyConfig } from '../config.js';
import { DigestParam, DigestScan } from '../digest-scan.js';
import type { Guard } from '../types.js';
import { SCANNER_SIGNALS, type ScannerConfig, type ScannerSignal, type SignalAction } from './config.js';
import {
  hasTrigger,
  hasTriggerBytes,
  INSPECT_LIMIT,
  normalizeForInspection,
  shellInjectionIn,
  sqlInjectionIn,
} from './injection.js';
import { PatternMatcher, REGEX_INPUT_LIMIT } from './patterns.js';
import { ScoreBoard } from './score.js';

/** What the scanner needs to know about sipwarden's own addresses and the trusted ones. */
export interface ScannerIdentity {
  /**
   * Whether host (an IP address without brackets, or a name) and port name one of
   * sipwarden's own listeners. `port` undefined: the URI names no port (any listener).
   */
  isOwnHost(host: string, port: number | undefined): boolean;
  /** Whether an address is trusted (configuration `trusted` or an upstream target). */
  isTrusted(address: string): boolean;
}

/** Signal numbers: bit positions in score masks, indexes in the per-signal arrays. */
enum Signal {
  UserAgent = 0,
  SqlInjection = 1,
  ShellMetacharacters = 2,
  OverlongValue = 3,
  IpLiteralHost = 4,
  RecordRouteSpoofing = 5,
  RecordRouteForeign = 6,
  RecordRouteRegister = 7,
  SdpSessionName = 8,
  Count = 9,
}

/** The signals in `Signal` order (the configuration lists them in that order). */
const SIGNAL_KEYS: readonly ScannerSignal[] = SCANNER_SIGNALS;

/** Rule names: the signal names with dashes. */
const RULES: readonly string[] = SIGNAL_KEYS.map((s) => s.replaceAll('_', '-'));
const BAN_REASONS: readonly string[] = RULES.map((r) => `scanner: ${r}`);

/** Action strengths: the strongest action of a message wins. */
enum Strength {
  Off = 0,
  Score = 1,
  Drop = 2,
  Reply = 3,
  Honeypot = 4,
  Ban = 5,
}

const STRENGTH: Readonly<Record<SignalAction, Strength>> = {
  off: Strength.Off,
  score: Strength.Score,
  drop: Strength.Drop,
  reply: Strength.Reply,
  honeypot: Strength.Honeypot,
  ban: Strength.Ban,
};

/** From display names SIPVicious writes by default (svmap `--fromname`), compared whole. */
export const TOOL_FROM_NAMES: readonly string[] = ['sipvicious'];

/** Longest piece of attacker text put in a verdict's detail. */
export const DETAIL_TEXT_LIMIT = 100;

export class ScannerGuard implements Guard {
  readonly name = 'scanner';
  private readonly userAgents: PatternMatcher;
  private readonly sdpNames: PatternMatcher;
  /** Per signal (indexed by Signal): strength of its action, and points for `score`. */
  private readonly strength = new Int32Array(Signal.Count);
  private readonly points = new Int32Array(Signal.Count);
  private readonly threshold: number;
  private readonly banDuration: number;
  private readonly reply: ReplySpec;
  private readonly identity: ScannerIdentity;
  /** `recordRouteHosts`: addresses and networks, and domain names. */
  private readonly rrNetworks = new CidrSet();
  private readonly rrNames = new Set<string>();
  private readonly keys: SourceKeys;
  private readonly scores: ScoreBoard;
  /** Per-message scratch: the strongest signal so far and its detail. */
  private best: Signal | -1 = -1;
  private bestStrength: Strength = Strength.Off;
  private bestDetail = '';
  private scored = 0;
  private scoredDetail = '';
  private sqlPending = false;
  private shellPending = false;
  private readonly digestScan = new DigestScan();

  /** Throws an Error when a `/regex/` pattern does not compile. */
  constructor(
    config: ScannerConfig,
    reply: GuardReplyConfig,
    identity: ScannerIdentity,
    keys: SourceKeys,
    maxSources = 100_000,
  ) {
    this.userAgents = new PatternMatcher(config.userAgents);
    this.sdpNames = new PatternMatcher(config.sdpSessionNames);
    for (let s = 0; s < Signal.Count; s++) {
      const signal = config.signals[SIGNAL_KEYS[s]!];
      this.strength[s] = STRENGTH[signal.action];
      this.points[s] = signal.points;
    }
    this.threshold = config.scoreThreshold;
    this.banDuration = config.ban;
    this.reply = Object.freeze({ code: reply.code, reason: reply.reason });
    this.identity = identity;
    for (const host of config.recordRouteHosts) {
      if (/^[0-9.]+(\/[0-9]+)?$/.test(host) || host.includes(':')) this.rrNetworks.add(host);
      else this.rrNames.add(host.toLowerCase());
    }
    this.keys = keys;
    this.scores = new ScoreBoard(config.scoreWindow, maxSources);
  }

  /** Sources with a live score (for tests and metrics). */
  get scoredSources(): number {
    return this.scores.size;
  }

  checkMessage(msg: SipMessage, source: Source, now: number): Verdict {
    this.best = -1;
    this.bestStrength = Strength.Off;
    this.bestDetail = '';
    this.scored = 0;
    this.scoredDetail = '';
    try {
      this.detect(msg, source);
    } catch {
      // Every decode is guarded where it happens: this only keeps a bug from escaping.
      // What was found before it still decides.
    }
    return this.decide(msg, source, now);
  }

  // ---- detection -------------------------------------------------------------------------

  private detect(msg: SipMessage, source: Source): void {
    const s = this.strength;
    if (s[Signal.UserAgent]! !== Strength.Off) this.userAgentSignal(msg);
    if (this.banned()) return;
    if (s[Signal.SdpSessionName]! !== Strength.Off && msg.end > msg.bodyStart) this.sdpSignal(msg);
    if (this.banned() || !msg.isRequest) return;
    if (
      (s[Signal.RecordRouteSpoofing]! !== Strength.Off ||
        s[Signal.RecordRouteForeign]! !== Strength.Off ||
        s[Signal.RecordRouteRegister]! !== Strength.Off) &&
      msg.findHeaderId(H.RecordRoute) !== -1
    ) {
      this.recordRouteSignals(msg, source);
      if (this.banned()) return;
    }
    if (s[Signal.IpLiteralHost]! !== Strength.Off) this.ipLiteralSignal(msg);
    if (this.banned()) return;
    if (s[Signal.SqlInjection]! !== Strength.Off || s[Signal.ShellMetacharacters]! !== Strength.Off) {
      this.injectionSignals(msg);
    }
  }

  /** Whether a signal with the strongest action fired: nothing can change the verdict. */
  private banned(): boolean {
    return this.bestStrength === Strength.Ban;
  }

  /** Records that a signal fired; the strongest one (the first among equals) is kept. */
  private hit(signal: Signal, detail: string): void {
    const strength = this.strength[signal]! as Strength;
    if (strength === Strength.Score) {
      if ((this.scored & (1 << signal)) === 0) {
        this.scored |= 1 << signal;
        this.scoredDetail = this.scoredDetail.length === 0 ? detail : `${this.scoredDetail}; ${detail}`;
      }
      return;
    }
    if (strength > this.bestStrength) {
      this.best = signal;
      this.bestStrength = strength;
      this.bestDetail = detail;
    }
  }

  private userAgentSignal(msg: SipMessage): void {
    const id = msg.isRequest ? H.UserAgent : H.Server;
    const first = msg.isRequest ? msg.userAgentAt : msg.serverAt;
    // Every line: a second User-Agent must not hide the tool behind a phone's name.
    for (let k = first; k !== -1 && this.userAgents.size > 0; k = msg.findHeaderId(id, k + 1)) {
      const a = msg.valueStartAt(k);
      const b = msg.valueEndAt(k);
      const p = this.userAgents.matchBytes(msg.buf, a, b);
      const name = msg.isRequest ? 'User-Agent' : 'Server';
      if (p !== -1) {
        this.hit(
          Signal.UserAgent,
          `${name} ${quote(msg.headerValueAt(k))} matches ${quote(this.userAgents.patterns[p]!)}`,
        );
        return;
      }
      if (this.userAgents.hasRegex && b - a > REGEX_INPUT_LIMIT) {
        this.hit(Signal.OverlongValue, `${name} longer than the ${REGEX_INPUT_LIMIT} octets patterns read`);
      }
    }
    if (msg.isRequest && msg.fromAt !== -1) {
      const name = toolFromName(msg);
      if (name !== undefined) this.hit(Signal.UserAgent, `From display name ${quote(name)}`);
    }
  }

  private sdpSignal(msg: SipMessage): void {
    if (this.sdpNames.size === 0 || !hasSdpBody(msg)) return;
    const buf = msg.buf;
    const line = sessionNameLine(buf, msg.bodyStart, msg.end);
    if (line === -1) return;
    let e = line;
    while (e < msg.end && buf[e] !== 0x0d && buf[e] !== 0x0a) e++;
    // Substrings are matched on the whole line; a /regex/ reads REGEX_INPUT_LIMIT octets.
    const p = this.sdpNames.matchBytes(buf, line, e);
    if (p !== -1) {
      const text = buf.toString('utf8', line, Math.min(e, line + DETAIL_TEXT_LIMIT));
      this.hit(Signal.SdpSessionName, `SDP session name ${quote(text)} matches ${quote(this.sdpNames.patterns[p]!)}`);
    } else if (this.sdpNames.hasRegex && e - line > REGEX_INPUT_LIMIT) {
      this.hit(Signal.OverlongValue, `SDP session name longer than the ${REGEX_INPUT_LIMIT} octets patterns read`);
    }
  }

  /** Record-Route on a request from the outside: spoofing, a foreign top entry, REGISTER. */
  private recordRouteSignals(msg: SipMessage, source: Source): void {
    const s = this.strength;
    let routes: NameAddr[];
    try {
      routes = msg.recordRoutes;
    } catch (err) {
      if (err instanceof SipParseError) {
        // Not passed unread: no check can clear a list that does not decode, and the next
        // hop may read its top entry all the same (nothing else refuses it: the proxy copies
        // Record-Route as it is).
        if (msg.method === 'REGISTER') this.hit(Signal.RecordRouteRegister, 'Record-Route on a REGISTER');
        this.hit(Signal.RecordRouteForeign, 'a Record-Route that does not decode');
        return;
      }
      throw err;
    }
    // Every entry (the parser bounds their number): one naming sipwarden or the inside may
    // sit anywhere in the list.
    if (s[Signal.RecordRouteSpoofing]! !== Strength.Off) {
      for (let k = 0; k < routes.length; k++) {
        const uri = routes[k]!.uri;
        if (uri.scheme !== 'sip' && uri.scheme !== 'sips') continue;
        const host = hostAddress(uri.host);
        if (this.identity.isOwnHost(host, uri.port)) {
          this.hit(Signal.RecordRouteSpoofing, `Record-Route ${quote(routes[k]!.uriText)} names this proxy`);
          break;
        }
        if (uri.hostType !== 'domain' && this.identity.isTrusted(host)) {
          this.hit(Signal.RecordRouteSpoofing, `Record-Route ${quote(routes[k]!.uriText)} names a trusted address`);
          break;
        }
      }
    }
    if (msg.method === 'REGISTER') {
      this.hit(Signal.RecordRouteRegister, `Record-Route on a REGISTER: ${quote(routes[0]!.uriText)}`);
    }
    if (s[Signal.RecordRouteForeign]! !== Strength.Off && !this.isSenderRoute(routes[0]!, source)) {
      this.hit(
        Signal.RecordRouteForeign,
        `top Record-Route ${quote(routes[0]!.uriText)} does not name the sender ${source.address}`,
      );
    }
  }

  /**
   * Whether a top Record-Route names the address the request came from (any port: a proxy
   * may send from another port than it listens on), or one of `recordRouteHosts`. A domain
   * name is never resolved here (no DNS on the message path): it must be listed.
   */
  private isSenderRoute(route: NameAddr, source: Source): boolean {
    const uri = route.uri;
    if (uri.scheme !== 'sip' && uri.scheme !== 'sips') return false;
    if (uri.hostType === 'domain') {
      const name = uri.host.toLowerCase();
      return this.rrNames.has(name.endsWith('.') ? name.slice(0, -1) : name);
    }
    const host = hostAddress(uri.host);
    if (this.rrNetworks.size > 0 && this.rrNetworks.has(host)) return true;
    try {
      return normalizeIp(host) === normalizeIp(source.address);
    } catch {
      return false;
    }
  }

  private ipLiteralSignal(msg: SipMessage): void {
    const from = decoded(msg, 'from');
    if (from !== undefined && this.isForeignIpLiteral(from)) {
      this.hit(Signal.IpLiteralHost, `From host ${from.uri.host}`);
      return;
    }
    const to = decoded(msg, 'to');
    if (to !== undefined && this.isForeignIpLiteral(to)) this.hit(Signal.IpLiteralHost, `To host ${to.uri.host}`);
  }

  private isForeignIpLiteral(addr: NameAddr): boolean {
    const uri = addr.uri;
    if (uri.hostType !== 'ipv4' && uri.hostType !== 'ipv6') return false;
    const host = hostAddress(uri.host);
    return !this.identity.isOwnHost(host, uri.port) && !this.identity.isTrusted(host);
  }

  /** SQL and shell injection in the names an attacker picks. */
  private injectionSignals(msg: SipMessage): void {
    this.sqlPending = this.strength[Signal.SqlInjection]! !== Strength.Off;
    this.shellPending = this.strength[Signal.ShellMetacharacters]! !== Strength.Off;
    this.inspectName('Request-URI user', userOf(msg, 'requestUri'));
    if (this.sqlPending || this.shellPending) this.inspectName('From user', userOf(msg, 'from'));
    if (this.sqlPending || this.shellPending) this.inspectName('To user', userOf(msg, 'to'));
    // Every credentials line (the parser bounds their number): a decoy in front of the
    // real one must not hide it.
    const n = msg.headerCount;
    for (let k = 0; k < n && (this.sqlPending || this.shellPending); k++) {
      const id = msg.headerIdAt(k);
      if (id !== H.Authorization && id !== H.ProxyAuthorization) continue;
      this.inspectName('digest username', this.digestUsernameAt(msg, k));
    }
  }

  /**
   * The digest username of auth header number `k`; undefined when it holds no character an
   * injection needs (checked on the octets: nothing is made for a clean name).
   */
  private digestUsernameAt(msg: SipMessage, k: number): string | undefined {
    const scan = this.digestScan;
    if (!scan.scan(msg.buf, msg.valueStartAt(k), msg.valueEndAt(k))) return digestUsername(msg.headerValueAt(k));
    if (!scan.has(DigestParam.Username)) return undefined;
    const a = scan.start[DigestParam.Username]!;
    const b = scan.end[DigestParam.Username]!;
    if (!hasTriggerBytes(msg.buf, a, b)) return undefined;
    const text = msg.buf.toString('utf8', a, b);
    return (scan.quoted & (1 << DigestParam.Username)) !== 0 ? unquote(text) : text;
  }

  private inspectName(where: string, value: string | undefined): void {
    if (value === undefined || !hasTrigger(value)) return;
    // The rules read INSPECT_LIMIT characters: beyond them an injection could hide behind
    // padding. A name that long holding a character an injection needs is refused as such.
    if (value.length > INSPECT_LIMIT) {
      this.hit(
        Signal.OverlongValue,
        `${where} of ${value.length} characters, more than the ${INSPECT_LIMIT} inspected`,
      );
    }
    const text = normalizeForInspection(value);
    if (this.sqlPending) {
      const rule = sqlInjectionIn(text);
      if (rule !== undefined) {
        this.sqlPending = false;
        this.hit(Signal.SqlInjection, `${rule} in ${where} ${quote(value)}`);
      }
    }
    if (this.shellPending) {
      const rule = shellInjectionIn(text);
      if (rule !== undefined) {
        this.shellPending = false;
        this.hit(Signal.ShellMetacharacters, `${rule} in ${where} ${quote(value)}`);
      }
    }
  }

  // ---- decision --------------------------------------------------------------------------

  private decide(msg: SipMessage, source: Source, now: number): Verdict {
    if (this.bestStrength === Strength.Ban) return this.banVerdict(this.best as Signal, this.bestDetail);
    if (this.scored !== 0) {
      const key = this.keys.of(source.address);
      const entry = this.scores.add(key, this.scored, this.points, now);
      if (entry.score >= this.threshold) {
        this.scores.delete(key);
        return {
          action: 'ban',
          rule: 'score',
          detail: bounded(
            `score ${entry.score} >= ${this.threshold} (${signalNames(entry.signals)}): ${this.scoredDetail}`,
          ),
          duration: this.banDuration,
          reason: 'scanner: score',
        };
      }
    }
    const signal = this.best;
    if (signal === -1) return PASS;
    const rule = RULES[signal]!;
    const detail = this.bestDetail;
    switch (this.bestStrength) {
      case Strength.Honeypot:
        return { action: 'honeypot', rule, detail };
      case Strength.Reply:
        // Nothing answers an ACK or a response: those are dropped instead.
        if (msg.isRequest && msg.method !== 'ACK') return { action: 'reply', rule, detail, reply: this.reply };
        return { action: 'drop', rule, detail };
      default:
        return { action: 'drop', rule, detail };
    }
  }

  private banVerdict(signal: Signal, detail: string): Verdict {
    return { action: 'ban', rule: RULES[signal]!, detail, duration: this.banDuration, reason: BAN_REASONS[signal]! };
  }
}

// ---- helpers ---------------------------------------------------------------------------

/** Attacker text for a detail: cut to DETAIL_TEXT_LIMIT and quoted. */
function quote(text: string): string {
  return JSON.stringify(text.length > DETAIL_TEXT_LIMIT ? `${text.slice(0, DETAIL_TEXT_LIMIT)}…` : text);
}

function bounded(detail: string): string {
  return detail.length > 400 ? `${detail.slice(0, 400)}…` : detail;
}

function signalNames(mask: number): string {
  const names: string[] = [];
  for (let s = 0; s < Signal.Count; s++) if ((mask & (1 << s)) !== 0) names.push(RULES[s]!);
  return names.join(', ');
}

/** From or To decoded, or undefined when it does not decode. */
function decoded(msg: SipMessage, which: 'from' | 'to'): NameAddr | undefined {
  try {
    return which === 'from' ? msg.from : msg.to;
  } catch (err) {
    if (err instanceof SipParseError) return undefined;
    throw err;
  }
}

/** The user part of the Request-URI, From or To; read leniently when it does not decode. */
function userOf(msg: SipMessage, which: 'requestUri' | 'from' | 'to'): string | undefined {
  try {
    if (which === 'requestUri') return msg.requestUri.user;
    return (which === 'from' ? msg.from : msg.to).uri.user;
  } catch (err) {
    if (!(err instanceof SipParseError)) throw err;
  }
  const k = which === 'from' ? msg.fromAt : which === 'to' ? msg.toAt : -1;
  const text = which === 'requestUri' ? msg.requestUriText : k === -1 ? '' : msg.headerValueAt(k);
  return lenientUser(text);
}

/**
 * The user part of a URI in text that failed to decode: after the first `sip:`, `sips:`
 * or `tel:` up to the last `@` before `>` (or the end); the whole URI when there is no `@`.
 * Without a scheme, the text itself less a quoted display name.
 */
export function lenientUser(text: string): string | undefined {
  // The whole value (bounded by the parser's maxHeaderBytes): a cut would leave the rest unread.
  const lower = text.toLowerCase();
  let start = -1;
  let first = lower.length;
  for (const scheme of ['sip:', 'sips:', 'tel:']) {
    const at = lower.indexOf(scheme);
    if (at !== -1 && at < first) {
      first = at;
      start = at + scheme.length;
    }
  }
  if (start === -1) {
    const t = text.replace(/^\s*"(?:[^"\\]|\\.)*"/, '');
    return t.length === 0 ? undefined : t;
  }
  let end = lower.indexOf('>', start);
  if (end === -1) end = lower.length;
  const at = lower.lastIndexOf('@', end);
  return text.slice(start, at >= start ? at : end);
}

/** The digest username of an Authorization value, read leniently when it does not decode. */
export function digestUsername(value: string): string | undefined {
  try {
    return parseAuthHeader(value, 'Authorization').username;
  } catch (err) {
    if (!(err instanceof SipParseError)) throw err;
  }
  const m = /username\s*=\s*(?:"((?:[^"\\]|\\.)*)"?|([^,\s]*))/i.exec(value);
  return m === null ? undefined : (m[1] ?? m[2]);
}

/** The From display name when it is one of TOOL_FROM_NAMES, compared on the octets. */
function toolFromName(msg: SipMessage): string | undefined {
  const buf = msg.buf;
  const a = msg.valueStartAt(msg.fromAt);
  const b = msg.valueEndAt(msg.fromAt);
  if (buf[a] !== 0x22) return undefined;
  for (const name of TOOL_FROM_NAMES) {
    const e = a + 1 + name.length;
    if (e >= b || buf[e] !== 0x22) continue;
    let j = 0;
    while (j < name.length && (buf[a + 1 + j]! | 0x20) === name.charCodeAt(j)) j++;
    if (j === name.length) return buf.toString('latin1', a + 1, e);
  }
  return undefined;
}

/** Whether the Content-Type names SDP (application/sdp) or a multipart body that may hold it. */
function hasSdpBody(msg: SipMessage): boolean {
  const k = msg.findHeaderId(H.ContentType);
  if (k === -1) return false;
  const buf = msg.buf;
  const a = msg.valueStartAt(k);
  const b = msg.valueEndAt(k);
  return startsWithIgnoreCase(buf, a, b, 'application/sdp') || startsWithIgnoreCase(buf, a, b, 'multipart/');
}

function startsWithIgnoreCase(buf: Buffer, a: number, b: number, text: string): boolean {
  if (b - a < text.length) return false;
  for (let j = 0; j < text.length; j++) {
    const c = buf[a + j]!;
    if ((c >= 0x41 && c <= 0x5a ? c | 0x20 : c) !== text.charCodeAt(j)) return false;
  }
  return true;
}

/** Offset of the value of the first `s=` line in buf[a, b), or -1. */
function sessionNameLine(buf: Buffer, a: number, b: number): number {
  let i = a;
  while (i + 1 < b) {
    if (buf[i] === 0x73 && buf[i + 1] === 0x3d) return i + 2;
    // Next line.
    while (i < b && buf[i] !== 0x0a) i++;
    i++;
  }
  return -1;
}
