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
 */
import { randomBytes } from 'node:crypto';
import type { AuthAlgorithmName, AuthConfig } from '../config/types.js';
import type { Guard, ReplySpec, Source, Verdict } from '../guards/types.js';
import { PASS } from '../guards/types.js';
import { sanitize } from '../log/sanitize.js';
import { hash53Parts } from '../proxy/branch.js';
import { localToTag } from '../proxy/replies.js';
import type { AuthHeader } from '../sip/digest.js';
import { parseAuthHeader } from '../sip/digest.js';
import { H } from '../sip/header-names.js';
import type { SipMessage } from '../sip/message.js';
import { algorithmNamed, computeResponse, type DigestAlgorithm, hashOf, responsesEqual } from './digest.js';
import { NonceCodec, nonceKey } from './nonce.js';
import { type AuthOutcome, type AuthOutcomeKind, AuthOutcomes, type AuthReason } from './outcomes.js';
import { NonceCountTable } from './replay.js';
import type { CredentialStripper } from './strip.js';
import { ha1Of, type UserDirectory } from './users.js';
import { type AuthLogger, FileUserDirectory } from './users-file.js';
import { StoreUserDirectory } from './users-store.js';

/** What the guard needs from the running sipwarden. */
export interface AuthDeps {
  /** Where outcomes go (kept across reloads by the server). */
  readonly outcomes: AuthOutcomes;
  /** Removes checked credentials from forwarded requests; undefined: nothing is removed. */
  readonly stripper: CredentialStripper | undefined;
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

  constructor(
    private readonly config: AuthConfig,
    private readonly deps: AuthDeps,
  ) {
    this.nonces = new NonceCodec(nonceKey(config.secret ?? deps.secret()), config.nonceLifetime);
    this.counts = new NonceCountTable(config.maxNonces);
    this.methods = new Set(config.methods);
    this.algorithms = new Set(config.algorithms.map((a) => WIRE_NAMES[a]));
    this.monitor = config.mode === 'monitor';
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

  checkMessage(msg: SipMessage, source: Source, now: number): Verdict {
    if (!msg.isRequest) return PASS;
    const method = msg.method;
    if (msg.to.tag !== undefined && this.hasOwnTag(msg)) return method === 'ACK' ? OWN_ACK : NO_DIALOG;
    if (!this.methods.has(method)) return PASS;
    if (!this.config.inDialog && msg.to.tag !== undefined) return PASS;
    const realm = this.realmOf(msg);

    // Credentials for our realm, in Authorization or Proxy-Authorization (either answers either challenge).
    let creds: AuthHeader | undefined;
    let at = -1;
    const n = msg.headerCount;
    for (let k = 0; k < n; k++) {
      const id = msg.headerIdAt(k);
      if (id !== H.Authorization && id !== H.ProxyAuthorization) continue;
      const h = parseAuthHeader(msg.headerValueAt(k), id === H.Authorization ? 'Authorization' : 'Proxy-Authorization');
      if (h.isDigest && h.realm === realm) {
        creds = h;
        at = k;
        break;
      }
    }
    if (creds === undefined) return this.refuse(msg, source, now, realm, undefined, 'challenge', 'challenge', false);

    const username = creds.username;
    const nonce = creds.nonce;
    const uri = creds.uri;
    const response = creds.response;
    const cnonce = creds.cnonce;
    const nc = creds.nc;
    const qop = creds.qop?.toLowerCase();
    const user = username === undefined ? undefined : sanitize(username, USER_MAX);
    if (
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

    const expires = this.nonces.expiresAt(nonce);
    const print = hash53Parts(
      this.printSeed,
      msg.callId,
      String(msg.cseq.seq),
      msg.cseq.method,
      msg.topVia.branch ?? '',
      '',
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
    if (this.config.stripCredentials && !this.monitor) this.deps.stripper?.mark(msg, at);
    return PASS;
  }

  /** A request whose To tag is the one sipwarden put on its own reply (see `localToTag`). */
  private hasOwnTag(msg: SipMessage): boolean {
    const to = msg.headerValueAt(msg.toAt);
    const m = TO_TAG_AT_END.exec(to);
    return m !== null && m[1] === msg.to.tag && localToTag(to.slice(0, m.index), msg.callId) === m[1];
  }

  /** The realm of a request: by the From host when `realms` names it, else `realm`. */
  private realmOf(msg: SipMessage): string {
    const realms = this.config.realms;
    for (const _ in realms) {
      const host = msg.from.uri.host.toLowerCase();
      return realms[host] ?? this.config.realm;
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
  ): Verdict {
    const answer = this.report(source, now, realm, user, outcome, reason, msg.method);
    return {
      action: 'reply',
      rule: reason,
      detail: user ?? '',
      reply: answer ?? this.challenge(msg.method, now, source, realm, stale),
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

/** Deps for a guard built without a running server (dry runs, benchmarks): no store, a random key. */
export function standaloneAuthDeps(log: AuthLogger): AuthDeps {
  const secret = randomBytes(32).toString('base64url');
  return { outcomes: new AuthOutcomes(), stripper: undefined, storeFile: undefined, secret: () => secret, log };
}
