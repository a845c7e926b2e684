/**
 * The honeypot as a module: it takes the messages a guard sent to it (a `honeypot` verdict) and
 * every message of a source it holds, records them, and answers them itself or lets routing
 * forward them to the external honeypot. The external honeypot counts as the inside: its
 * answers come back through sipwarden and keep their headers (its banner is the point of it).
 */
import type { MessageContext } from '../core/context.js';
import type { Module } from '../core/module.js';
import { ACCEPT } from '../core/verdict.js';
import type { HoneypotHook } from './honeypot.js';

export class HoneypotModule implements Module {
  readonly name = 'honeypot';

  constructor(private readonly honeypot: HoneypotHook) {}

  isInsidePeer(transport: string, address: string, port: number): boolean {
    return (
      this.honeypot.forwardTarget !== undefined &&
      this.honeypot.isForwardTarget(transport as 'udp' | 'tcp' | 'tls', address, port)
    );
  }

  onRequestFromOutside(ctx: MessageContext): void {
    const v = ctx.verdict;
    if (v.action === 'honeypot') this.take(ctx, ctx.verdictBy, v.rule);
    // A source in the honeypot stays there: the rest of its dialogs get consistent answers.
    else if (v.action === 'pass' && this.honeypot.holds(ctx.source.address)) this.take(ctx, '', 'held');
  }

  onResponseFromOutside(ctx: MessageContext): void {
    this.onRequestFromOutside(ctx);
  }

  /** Answers of the external honeypot keep their headers (no hygiene on their way out). */
  onResponseFromInside(ctx: MessageContext): void {
    if (this.isInsidePeer(ctx.source.transport, ctx.source.address, ctx.source.port)) ctx.keepHeaders = true;
  }

  private take(ctx: MessageContext, guard: string, rule: string): void {
    const label = guard === '' ? 'held' : guard;
    const counts = this.honeypot.byGuard;
    counts.set(label, (counts.get(label) ?? 0) + 1);
    const msg = ctx.msg;
    const forward = this.honeypot.take(msg, ctx.source, msg.end - msg.start, guard, rule);
    const target = this.honeypot.forwardTarget;
    if (!forward || target === undefined) {
      ctx.take();
      return;
    }
    // Forwarded to the external honeypot like to an upstream; no other check applies now.
    ctx.decide(ACCEPT, this.name);
    if (msg.isRequest) ctx.forcedTarget = target;
  }
}
