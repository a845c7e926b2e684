/**
 * The `auth` guard: digest authentication at the edge (RFC 3261 22, RFC 7616, RFC 8760).
 *
 * A request of a challenged method either carries valid Digest credentials for sipwarden's
 * realm and goes on (those credentials removed when `strip_credentials`), or is answered with
 * a challenge (401 WWW-Authenticate or 407 Proxy-Authenticate, one header per algorithm,
 * SHA-256 first). Nonces are stateless (nonce.ts); nonce-counts are tracked against replays
 * (replay.ts). Unknown users and wrong passwords get the same answer, computed with the same
 * work. Every checked request yields an `AuthOutcome` (outcomes.ts); challenged ones also a
 * security event through the chain (rule = the reason, detail = the sanitized username).
 *
 * Authentication is bound to the request: the digest `uri` must be the Request-URI (RFC 3261
 * 22.4, RFC 7616 3.4.6), the nonce-count fingerprint covers the method and Request-URI, and
 * (identity check, like Kamailio's auth_check flag 1) the user claimed in To (REGISTER) or From
 * (the rest) must be the authenticated one or an alias of it. The realm is the one configured
 * for that claimed identity's domain. In-dialog requests skip the challenge only when they
 * belong to a dialog sipwarden saw established (`AuthDeps.inDialog`); REGISTER and PUBLISH
 * never do.
 */
import { randomBytes } from 'node:crypto';
import type { MessageContext } from '../core/context.js';
import { PASS, type ReplySpec, type Source, type Verdict } from '../core/verdict.js';
import type { Guard } from '../guards/types.js';
import { sanitize } from '../log/sanitize.js';
import { hash53Parts } from '../net/hash.js';
import { type AuthHeader, parseAuthHeader } from '../sip/digest.js';
import { H } from '../sip/header-names.js';
import type { SipMessage } from '../sip/message.js';
import { localToTag } from '../sip/reply.js';
import { parseUri, type SipUri } from '../sip/uri.js';
import { percentDecoded, urisEquivalent } from '../sip/uri-compare.js';
import type { AuthAlgorithmName, AuthConfig } from './config.js';
import { algorithmNamed, computeResponse, type DigestAlgorithm, hashOf, responsesEqual } from './digest.js';
import { NonceCodec, nonceKey } from './nonce.js';
import { type AuthOutcome, type AuthOutcomeKind, AuthOutcomes, type AuthReason } from './outcomes.js';
import { NonceCountTable } from './replay.js';
import { VERIFIED } from './strip.js';
import { ha1Of, type UserDirectory } from './users.js';
import { type AuthLogger, FileUserDirectory } from './users-file.js';
import { StoreUserDirectory } from './users-store.js';

/** What the guard needs from the running sipwarden. */
export interface AuthDeps {
  /** Where outcomes go (kept across reloads by the server). */
  readonly outcomes: AuthOutcomes;
  /** The store's SQLite file (`source: store`), or undefined when the store is in memory. */
  readonly storeFile: string | undefined;
  /** The top-level secret (config or data_dir), for the nonce key when guards.auth.secret is unset. */
  readonly secret: () => string;
  readonly log: AuthLogger;
  /**
   * Counts each outcome against the source (brute_force) and may answer a failed attempt
   * itself, e.g. `403 Try later` when it banned the source; set by the server.
   */
  judge?: (outcome: AuthOutcome) => ReplySpec | undefined;
  /**
   * True when an in-dialog request (one with a To tag) belongs to a dialog sipwarden saw
   * established, reached from the flow that dialog was record-routed for; set by the server.
   * Undefined (dry runs): no in-dialog request skips the challenge.
   */
  inDialog?: (msg: SipMessage, source: Source, now: number) => boolean;
}

const WIRE_NAMES: Record<AuthAlgorithmName, DigestAlgorithm> = {
  'sha-256': 'SHA-256',
  md5: 'MD5',
  'sha-256-sess': 'SHA-256-sess',
  'md5-sess': 'MD5-sess',
};

/** HA1 stand-ins for unknown users: the response is computed all the same (equal timing). */
const DUMMY_HA1 = { md5: randomBytes(16).toString('hex'), sha256: randomBytes(32).toString('hex') };
const NC = /^[0-9a-fA-F]{8}$/;
/** The ACK of a reply sipwarden sent itself (a challenge): it ends here, the server behind never saw the INVITE. */
const OWN_ACK: Verdict = Object.freeze({ action: 'drop', rule: 'challenge-ack' });
/**
 * Another request "inside the dialog" of a sipwarden reply (e.g. the BYE a client sends after
 * giving up on a challenged INVITE): there is no such dialog, and it must not slip past the
 * challenge as an in-dialog request.
 */
const NO_DIALOG: Verdict = Object.freeze({
  action: 'reply',
  rule: 'no-dialog',
  reply: Object.freeze({ code: 481, reason: 'Call/Transaction Does Not Exist' }),
});
/** RFC 7616 3.4.6: a digest `uri` that is not the Request-URI. */
const BAD_URI: ReplySpec = Object.freeze({ code: 400, reason: 'Bad Request' });
/** Kamailio answers its auth_check identity failure the same way ("Forbidden auth ID"). */
const NOT_YOURS: ReplySpec = Object.freeze({ code: 403, reason: 'Forbidden' });
/** RFC 3323 4.1.1.3: the From of an anonymous request; it claims nobody's identity. */
const ANONYMOUS_HOST = 'anonymous.invalid';
const TO_TAG_AT_END = /;\s*tag=([0-9a-z]{1,12})$/;
const NO_USERS: UserDirectory = { find: () => undefined, size: 0, close: () => {} };
/** Longest username kept in outcomes and event details. */
const USER_MAX = 64;

export class AuthGuard implements Guard {
  readonly name = 'auth';
  private readonly nonces: NonceCodec;
  private readonly counts: NonceCountTable;
  private readonly users: UserDirectory;
  private readonly methods: ReadonlySet<string>;
  private readonly algorithms: ReadonlySet<DigestAlgorithm>;
  /** `Digest realm="...", nonce="` ... per algorithm, by realm: built once. */
  private readonly challengePrefix = new Map<string, readonly string[]>();
  private readonly printSeed = randomBytes(4).readUInt32BE(0);
  private readonly monitor: boolean;
  /** `identity.aliases`: digest username -> the URI users it may claim besides its own. */
  private readonly aliases = new Map<string, ReadonlySet<string>>();

  constructor(
    private readonly config: AuthConfig,
    private readonly deps: AuthDeps,
  ) {
    this.nonces = new NonceCodec(nonceKey(config.secret ?? deps.secret()), config.nonceLifetime);
    this.counts = new NonceCountTable(config.maxNonces);
    this.methods = new Set(config.methods);
    this.algorithms = new Set(config.algorithms.map((a) => WIRE_NAMES[a]));
    this.monitor = config.mode === 'monitor';
    for (const [user, others] of Object.entries(config.identity.aliases)) this.aliases.set(user, new Set(others));
    if (config.source === 'store') {
      // Without a store file (a dry run, or store.type memory, which the loader refuses) nobody is known.
      if (deps.storeFile === undefined) {
        deps.log.warn({ event: 'auth-users-store' }, 'no SQLite store: no user can authenticate');
        this.users = NO_USERS;
      } else {
        this.users = new StoreUserDirectory(deps.storeFile, deps.log);
      }
    } else {
      if (config.usersFile === undefined) throw new Error('guards.auth.users_file is required with source file');
      this.users = new FileUserDirectory(config.usersFile, deps.log);
    }
  }

  /** Nonces tracked for replay protection (tests, metrics). */
  get trackedNonces(): number {
    return this.counts.size;
  }

  checkMessage(msg: SipMessage, source: Source, now: number, ctx?: MessageContext): Verdict {
    if (!msg.isRequest) return PASS;
    const method = msg.method;
    const toTag = msg.to.tag;
    if (toTag !== undefined && this.hasOwnTag(msg)) return method === 'ACK' ? OWN_ACK : NO_DIALOG;
    if (!this.methods.has(method)) return PASS;
    // A To tag alone proves nothing (anyone can write one): only a dialog sipwarden saw skips.
    const unknownDialog = toTag !== undefined && !this.config.inDialog && !this.belongsToDialog(msg, source, now);
    if (toTag !== undefined && !this.config.inDialog && !unknownDialog) return PASS;
    const realm = this.realmOf(msg);

    // Credentials for our realm, in Authorization or Proxy-Authorization (either answers either challenge).
    // Like a registrar, pick them by realm; two for our realm are refused (sanity refuses them too).
    let creds: AuthHeader | undefined;
    let at = -1;
    let twice = false;
    const n = msg.headerCount;
    for (let k = 0; k < n; k++) {
      const id = msg.headerIdAt(k);
      if (id !== H.Authorization && id !== H.ProxyAuthorization) continue;
      const h = parseAuthHeader(msg.headerValueAt(k), id === H.Authorization ? 'Authorization' : 'Proxy-Authorization');
      if (!h.isDigest || h.realm !== realm) continue;
      if (creds !== undefined) {
        twice = true;
        break;
      }
      creds = h;
      at = k;
    }
    if (creds === undefined) {
      const reason = unknownDialog ? 'unknown-dialog' : 'challenge';
      return this.refuse(msg, source, now, realm, undefined, 'challenge', reason, false);
    }

    const username = creds.username;
    const nonce = creds.nonce;
    const uri = creds.uri;
    const response = creds.response;
    const cnonce = creds.cnonce;
    const nc = creds.nc;
    const qop = creds.qop?.toLowerCase();
    const user = username === undefined ? undefined : sanitize(username, USER_MAX);
    if (
      twice ||
      username === undefined ||
      nonce === undefined ||
      uri === undefined ||
      response === undefined ||
      cnonce === undefined ||
      nc === undefined ||
      !NC.test(nc) ||
      qop === undefined
    ) {
      return this.refuse(msg, source, now, realm, user, 'failure', 'bad-credentials', false);
    }
    const algorithm = algorithmNamed(creds.algorithm);
    if (qop !== 'auth' || algorithm === undefined || !this.algorithms.has(algorithm)) {
      // qop=auth-int, RFC 2069 credentials (no qop), an algorithm not offered: refused, challenged anew.
      return this.refuse(msg, source, now, realm, user, 'failure', 'unsupported', false);
    }
    const state = this.nonces.check(nonce, now, source.address, realm);
    if (state === 'invalid') return this.refuse(msg, source, now, realm, user, 'challenge', 'bad-nonce', false);
    // Credentials computed for another Request-URI (captured, then replayed to another destination).
    if (!uriMatches(uri, msg.requestUri)) {
      return this.refuse(msg, source, now, realm, user, 'failure', 'uri-mismatch', false, BAD_URI);
    }

    const hash = hashOf(algorithm);
    const record = this.users.find(username, realm);
    const ha1 = record === undefined ? undefined : ha1Of(record, hash);
    const expected = computeResponse({
      algorithm,
      ha1: ha1 ?? DUMMY_HA1[hash],
      nonce,
      nc,
      cnonce,
      qop: 'auth',
      method,
      uri,
    });
    const matches = responsesEqual(expected, response);
    if (ha1 === undefined) return this.refuse(msg, source, now, realm, user, 'unknown-user', 'unknown-user', false);
    if (!matches) return this.refuse(msg, source, now, realm, user, 'failure', 'wrong-password', false);
    if (state === 'stale') return this.refuse(msg, source, now, realm, user, 'stale', 'stale', true);
    if (this.config.identity.check && !this.mayClaim(username, method === 'REGISTER' ? msg.to.uri : msg.from.uri)) {
      return this.refuse(msg, source, now, realm, user, 'forbidden', 'identity', false, NOT_YOURS);
    }

    const expires = this.nonces.expiresAt(nonce);
    // The same nc is accepted again only for the same request: the method and Request-URI are
    // part of what "the same" means, so nothing can be re-aimed under a retransmission's cover.
    const print = hash53Parts(
      this.printSeed,
      msg.callId,
      `${msg.cseq.seq} ${msg.cseq.method}`,
      method,
      msg.topVia.branch ?? '',
      msg.requestUriText,
    );
    const used = this.counts.use(
      nonce,
      Number.parseInt(nc, 16),
      print,
      expires - this.config.nonceLifetime,
      expires,
      now,
    );
    if (used === 'replay') return this.refuse(msg, source, now, realm, user, 'replay', 'replay', false);
    if (used === 'evicted') return this.refuse(msg, source, now, realm, user, 'stale', 'stale', true);

    this.report(source, now, realm, user, 'success', 'ok', method);
    ctx?.set(VERIFIED, { header: at, strip: this.config.stripCredentials && !this.monitor });
    return PASS;
  }

  /**
   * An in-dialog request may go on unchallenged: never a REGISTER or PUBLISH (they belong to no
   * dialog, RFC 3261 10.2, RFC 3903 4), otherwise only in a dialog sipwarden saw established.
   */
  private belongsToDialog(msg: SipMessage, source: Source, now: number): boolean {
    const method = msg.method;
    if (method === 'REGISTER' || method === 'PUBLISH') return false;
    return this.deps.inDialog?.(msg, source, now) === true;
  }

  /**
   * The identity check: the user part of `claimed` (%-decoded) is `username` or one of its
   * aliases. An anonymous From (RFC 3323) claims nobody and passes.
   */
  private mayClaim(username: string, claimed: SipUri): boolean {
    if (claimed.host.toLowerCase() === ANONYMOUS_HOST) return true;
    const u = claimed.user;
    if (u === undefined) return false;
    const user = percentDecoded(u);
    return user === username || this.aliases.get(username)?.has(user) === true;
  }

  /** A request whose To tag is the one sipwarden put on its own reply (see `localToTag`). */
  private hasOwnTag(msg: SipMessage): boolean {
    const to = msg.headerValueAt(msg.toAt);
    const m = TO_TAG_AT_END.exec(to);
    return m !== null && m[1] === msg.to.tag && localToTag(to.slice(0, m.index), msg.callId) === m[1];
  }

  /**
   * The realm of a request, chosen by configuration: the realm `realms` gives the domain of the
   * identity the request claims (the To of a REGISTER, the From of the rest), else `realm`. So
   * credentials of one domain's realm never vouch for an identity in another domain.
   */
  private realmOf(msg: SipMessage): string {
    const realms = this.config.realms;
    for (const _ in realms) {
      const host = (msg.method === 'REGISTER' ? msg.to : msg.from).uri.host.toLowerCase();
      return Object.hasOwn(realms, host) ? realms[host]! : this.config.realm;
    }
    return this.config.realm;
  }

  private refuse(
    msg: SipMessage,
    source: Source,
    now: number,
    realm: string,
    user: string | undefined,
    outcome: AuthOutcomeKind,
    reason: AuthReason,
    stale: boolean,
    reply?: ReplySpec,
  ): Verdict {
    const answer = this.report(source, now, realm, user, outcome, reason, msg.method);
    return {
      action: 'reply',
      rule: reason,
      detail: user ?? '',
      reply: answer ?? reply ?? this.challenge(msg.method, now, source, realm, stale),
    };
  }

  /** A challenge: 401 or 407, one header per algorithm, all with the same fresh nonce. */
  private challenge(method: string, now: number, source: Source, realm: string, stale: boolean): ReplySpec {
    const c = this.config.challenge;
    const code = c === 'auto' ? (method === 'REGISTER' ? 401 : 407) : c;
    const name = code === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate';
    const nonce = this.nonces.issue(now, source.address, realm);
    const tail = stale ? '", qop="auth", stale=true' : '", qop="auth"';
    const prefixes = this.prefixesFor(realm);
    const headers: string[] = [];
    for (const p of prefixes) headers.push(`${name}: ${p}${nonce}${tail}`);
    return {
      code,
      reason: code === 401 ? 'Unauthorized' : 'Proxy Authentication Required',
      headers,
      challenge: true,
    };
  }

  private prefixesFor(realm: string): readonly string[] {
    let p = this.challengePrefix.get(realm);
    if (p === undefined) {
      p = this.config.algorithms.map((a) => `Digest realm="${realm}", algorithm=${WIRE_NAMES[a]}, nonce="`);
      this.challengePrefix.set(realm, p);
    }
    return p;
  }

  private report(
    source: Source,
    now: number,
    realm: string,
    user: string | undefined,
    outcome: AuthOutcomeKind,
    reason: AuthReason,
    method: string,
  ): ReplySpec | undefined {
    const out = this.deps.outcomes;
    const judge = this.deps.judge;
    if (out.listenerCount === 0 && judge === undefined) return undefined;
    const o: AuthOutcome = {
      time: now,
      source: { transport: source.transport, address: source.address, port: source.port, family: source.family },
      user,
      realm,
      outcome,
      reason,
      method,
      monitor: this.monitor,
    };
    if (out.listenerCount > 0) out.emit(o);
    return this.monitor || judge === undefined ? undefined : judge(o);
  }

  close(): void {
    this.users.close();
  }
}

/** The digest `uri` names the Request-URI, written the same or an equivalent way (RFC 3261 19.1.4). */
function uriMatches(uri: string, requestUri: SipUri): boolean {
  let parsed: SipUri;
  try {
    parsed = parseUri(uri, 0, uri.length, 'request-uri', 'uri');
  } catch {
    return false;
  }
  return urisEquivalent(parsed, requestUri);
}

/** Deps for a guard built without a running server (dry runs, benchmarks): no store, a random key. */
export function standaloneAuthDeps(log: AuthLogger): AuthDeps {
  const secret = randomBytes(32).toString('base64url');
  return { outcomes: new AuthOutcomes(), storeFile: undefined, secret: () => secret, log };
}
