/**
 * The transaction watch as a module: it sees the requests from the outside forwarded to the
 * inside and the final answers going back (brute_force, dial_scan and fraud judge them and may
 * replace an answer), and the inside's own requests (a callee's BYE ends a call).
 */
import { verifiedHeader } from '../auth/strip.js';
import type { MessageContext } from '../core/context.js';
import type { Module } from '../core/module.js';
import type { TransactionWatch } from './watch.js';

export class WatchModule implements Module {
  readonly name = 'watch';

  constructor(private readonly watch: TransactionWatch) {}

  onRequestToInside(ctx: MessageContext): void {
    this.watch.request(ctx.msg, ctx.source, ctx.branch, verifiedHeader(ctx));
  }

  /** Routing answered it itself (no upstream up): its entry goes, and the watchers hear of it. */
  onRequestNotSent(ctx: MessageContext): void {
    this.watch.notSent(ctx.msg, ctx.branch);
  }

  onRequestFromInside(ctx: MessageContext): void {
    this.watch.insideRequest(ctx.msg, ctx.outsideCallId ?? ctx.msg.callId);
  }

  /** Runs after topology hiding: a replaced answer keeps only the hidden core headers. */
  onResponseToOutside(ctx: MessageContext): void {
    this.watch.response(ctx.msg, ctx.branch, ctx.writer!);
  }
}
