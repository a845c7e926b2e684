/**
 * The credentials header of a request that sipwarden's auth guard verified: a mark on the
 * message's context. The auth module removes that header from the forwarded copy when
 * `strip_credentials` asks (its own realm's Authorization or Proxy-Authorization line), so the
 * server behind never sees them and credentials meant for that server (another realm) stay;
 * the transaction watch and the fraud guard read the mark to tell whose credentials count.
 */
import { ContextKey, type MessageContext } from '../core/context.js';
import type { Module } from '../core/module.js';

export interface VerifiedMark {
  /** Header number of the credentials sipwarden verified. */
  readonly header: number;
  /** Remove it from the forwarded copy. */
  readonly strip: boolean;
}

export const VERIFIED = new ContextKey<VerifiedMark>('auth.verified');

/** The header number of the credentials sipwarden verified in this message, or -1. */
export function verifiedHeader(ctx: MessageContext | undefined): number {
  return ctx?.get(VERIFIED)?.header ?? -1;
}

/** Removes the verified credentials from the copy forwarded to the inside. */
export class CredentialStripping implements Module {
  readonly name = 'auth';

  onRequestToInside(ctx: MessageContext): void {
    const mark = ctx.get(VERIFIED);
    if (mark?.strip === true) ctx.writer!.remove(mark.header);
  }
}
