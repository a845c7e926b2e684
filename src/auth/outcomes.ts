/**
 * What edge authentication decided about each request it checked, for the failed-
 * authentication tracker (counting failures per source and user) and for metrics.
 *
 * Subscribe with `AuthOutcomes.on`; listeners run synchronously, in order, and one that
 * throws does not stop the others or the request. Outcomes never carry credentials: `user`
 * is the username the client claimed, escaped and bounded (`sanitize`, 64 characters).
 */
import { Subscribers } from '../core/subscribers.js';
import type { Source } from '../core/verdict.js';

/**
 * - `success`: valid credentials, the request goes on.
 * - `challenge`: no credentials for our realm, or a nonce that is not ours (another address,
 *   another key, garbled): a fresh challenge. Not a failed attempt.
 * - `stale`: the right password with an expired nonce: challenged with stale=true.
 * - `failure`: a wrong password, or credentials sipwarden refuses (unsupported algorithm or
 *   qop, missing fields).
 * - `unknown-user`: the username is not known in the realm (on the wire: same as a failure).
 * - `replay`: the right password but a nonce-count already used by another request.
 * - `forbidden`: the right password, but the request claims another user's identity (To of a
 *   REGISTER, From of the rest): refused with 403. Not a guess at the password.
 *
 * A tracker counts `failure`, `unknown-user` and `replay` as failed attempts.
 */
export type AuthOutcomeKind = 'success' | 'failure' | 'challenge' | 'stale' | 'replay' | 'unknown-user' | 'forbidden';

/** The finer reason, also the `rule` of the security event of a challenged request. */
export type AuthReason =
  | 'ok'
  | 'challenge'
  | 'bad-nonce'
  | 'stale'
  | 'wrong-password'
  | 'unknown-user'
  | 'replay'
  | 'bad-credentials'
  | 'unsupported'
  /** The digest `uri` is not the Request-URI (RFC 3261 22.4, RFC 7616 3.4.6): answered 400. */
  | 'uri-mismatch'
  /** Authenticated as one user, claiming another's identity: answered 403. */
  | 'identity'
  /** An in-dialog request (To tag) that belongs to no dialog sipwarden saw: challenged. */
  | 'unknown-dialog';

export interface AuthOutcome {
  /** Epoch milliseconds. */
  readonly time: number;
  readonly source: Source;
  /** The claimed username, sanitized (at most 64 characters); undefined without credentials. */
  readonly user: string | undefined;
  readonly realm: string;
  readonly outcome: AuthOutcomeKind;
  readonly reason: AuthReason;
  readonly method: string;
  /** True when the auth guard runs in monitor mode (the request went on whatever the outcome). */
  readonly monitor: boolean;
}

export type AuthOutcomeListener = (outcome: AuthOutcome) => void;

export class AuthOutcomes extends Subscribers<AuthOutcome> {
  /** Subscribes; returns the function that unsubscribes. */
  on(listener: AuthOutcomeListener): () => void {
    return this.subscribe(listener);
  }
}
