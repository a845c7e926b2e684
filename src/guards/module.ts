/**
 * The guard chain as a module: the per-source guards (acl, bans, flood) before parsing, the
 * message guards (sanity, scanner, auth ...) on every parsed message from the outside, and the
 * bans guard's refusal of a banned source's TCP/TLS connections as they are accepted.
 */
import type { MessageContext } from '../core/context.js';
import type { Module } from '../core/module.js';
import type { GuardChain } from './chain.js';

export class GuardsModule implements Module {
  readonly name = 'guards';

  /** Set when the bans guard is in force: a banned source's connections are closed as they are accepted. */
  readonly onConnection?: (address: string) => boolean;

  constructor(
    private readonly chain: GuardChain,
    /** True when connections from this address are refused (a ban in force); undefined: never. */
    refuses: ((address: string) => boolean) | undefined,
  ) {
    if (refuses !== undefined) this.onConnection = (address) => !refuses(address);
  }

  onSource(ctx: MessageContext): void {
    this.chain.runSource(ctx.source, ctx.data.length, ctx, ctx.time);
  }

  /** Requests and responses from the outside alike. A source allow-listed or already blocked (for the honeypot) is not checked again. */
  onRequestFromOutside(ctx: MessageContext): void {
    if (ctx.verdict.action !== 'pass' || !this.chain.hasMessageGuards) return;
    this.chain.runMessage(ctx.msg, ctx.source, ctx, ctx, ctx.time);
  }

  onResponseFromOutside(ctx: MessageContext): void {
    this.onRequestFromOutside(ctx);
  }
}
