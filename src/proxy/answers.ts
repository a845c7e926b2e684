/**
 * sipwarden's own answers and how a message's way ends: a hook's ending (drop, reply, taken),
 * a guard's blocking verdict, a malformed request's 400. Every answer spends a budget (a token
 * bucket shared by all sources), so no flood can turn sipwarden into a reflector.
 */
import type { MessageContext, ReplyBudget } from '../core/context.js';
import { answerOf, type BlockingVerdict, type ReplySpec } from '../core/verdict.js';
import { sanitize } from '../log/sanitize.js';
import type { EventLogger } from '../log/types.js';
import type { Peer } from '../net/peer.js';
import { RateLimit } from '../net/rate-limit.js';
import { SipParseError } from '../sip/errors.js';
import type { ParseLimits } from '../sip/limits.js';
import type { SipMessage } from '../sip/message.js';
import { parseMessage } from '../sip/parser.js';
import { buildReply, canReplyTo } from '../sip/reply.js';
import type { ProxyStats } from './stats.js';

export interface AnswerBudgets {
  /** Answers to malformed or refused requests (400, 420, 481, 482, 483) per second. */
  badRequestPerSecond: number;
  /** Answers to blocked requests per second. */
  guardRepliesPerSecond: number;
  /** Authentication challenges per second. */
  challengesPerSecond: number;
}

export class Answers {
  private readonly badRequests: RateLimit;
  private guardReplies: RateLimit;
  private challenges: RateLimit;

  constructor(
    private budgets: AnswerBudgets,
    private limits: ParseLimits,
    private readonly stats: ProxyStats,
    private readonly send: (peer: Peer, data: Buffer) => void,
    private readonly log: EventLogger,
  ) {
    this.badRequests = new RateLimit(budgets.badRequestPerSecond);
    this.guardReplies = new RateLimit(budgets.guardRepliesPerSecond);
    this.challenges = new RateLimit(budgets.challengesPerSecond);
  }

  /** A reload: a budget that changed starts afresh; the others keep their state. */
  reconfigure(budgets: AnswerBudgets, limits: ParseLimits): void {
    if (budgets.guardRepliesPerSecond !== this.budgets.guardRepliesPerSecond) {
      this.guardReplies = new RateLimit(budgets.guardRepliesPerSecond);
    }
    if (budgets.challengesPerSecond !== this.budgets.challengesPerSecond) {
      this.challenges = new RateLimit(budgets.challengesPerSecond);
    }
    this.budgets = budgets;
    this.limits = limits;
  }

  /** Carries out how a hook ended the message, or the blocking verdict it got. True when it stops here. */
  stopped(ctx: MessageContext): boolean {
    if (ctx.ending === undefined && !ctx.blocked) return false;
    this.carryOut(ctx);
    return true;
  }

  carryOut(ctx: MessageContext): void {
    const e = ctx.ending;
    if (e === undefined) this.block(ctx, ctx.verdict as BlockingVerdict);
    else if (e.kind === 'drop') this.stats.count(this.stats.dropped, e.reason);
    else if (e.kind === 'reply') {
      const msg = this.messageOf(ctx);
      if (msg !== undefined) this.answer(msg, ctx.source, e.reply, e.why, e.budget);
      else this.stats.count(this.stats.dropped, e.why);
    }
  }

  /**
   * Carries out a blocking verdict: drop, or answer (rate limited, never to an ACK or a
   * response). A `honeypot` verdict no module took (the honeypot is off) drops. A message
   * blocked before parsing is parsed only when the verdict answers it.
   */
  private block(ctx: MessageContext, v: BlockingVerdict): void {
    this.stats.count(this.stats.blocked, ctx.verdictBy);
    const reply = answerOf(v);
    if (reply === undefined) return;
    const msg = this.messageOf(ctx);
    if (msg === undefined || !msg.isRequest || msg.method === 'ACK' || !canReplyTo(msg)) return;
    this.answer(msg, ctx.source, reply, '', reply.challenge === true ? 'challenge' : 'guard');
  }

  /** The message, parsed on demand when it was stopped before parsing (as far as it parses). */
  private messageOf(ctx: MessageContext): SipMessage | undefined {
    if (ctx.msg !== undefined) return ctx.msg;
    try {
      return parseMessage(ctx.data, { limits: this.limits, requireContentLength: ctx.source.transport !== 'udp' });
    } catch (err) {
      if (!(err instanceof SipParseError)) throw err;
      return err.partial;
    }
  }

  /** Sends sipwarden's own answer within its budget; never to an ACK or a response (counted under `why`). */
  answer(msg: SipMessage, peer: Peer, reply: ReplySpec, why: string, budget: ReplyBudget): void {
    if (!msg.isRequest || msg.method === 'ACK') {
      this.stats.count(this.stats.dropped, why === '' ? `${reply.code}` : why);
      return;
    }
    const limit =
      budget === 'guard'
        ? this.guardReplies
        : budget === 'challenge'
          ? this.challenges
          : budget === 'bad-request'
            ? this.badRequests
            : undefined;
    if (limit !== undefined && !limit.take()) {
      this.stats.count(this.stats.dropped, budget === 'guard' ? 'guard-reply-rate' : `${budget}-rate`);
      return;
    }
    this.stats.count(this.stats.replies, reply.code);
    this.send(peer, buildReply(msg, reply.code, reply.reason, reply.headers));
  }

  /** A header decoded on demand (Route, Via list) was malformed, or a hook failed on this message. */
  failed(ctx: MessageContext, err: unknown): void {
    if (err instanceof SipParseError) {
      err.partial ??= ctx.msg;
      this.malformed(err, ctx.source);
      return;
    }
    this.stats.count(this.stats.dropped, 'internal-error');
    const where = { event: 'message-failed', source: ctx.source.address, port: ctx.source.port };
    this.log.warn(where, sanitize(String(err), 300));
  }

  /** A hook threw or its promise rejected outside a message's own way (a source hook, a keep-alive's). */
  hookFailed(err: unknown): void {
    this.log.warn({ event: 'hook-failed' }, sanitize(String(err), 300));
  }

  /** A message that does not parse: a request gets 400 (505 for another SIP version), the rest is dropped. */
  malformed(err: SipParseError, peer: Peer): void {
    this.stats.count(this.stats.malformed, err.code);
    const req = err.partial;
    if (req === undefined || !req.isRequest || req.method === 'ACK' || !canReplyTo(req)) {
      this.stats.count(this.stats.dropped, req?.isRequest === false ? 'malformed-response' : 'malformed');
      this.log.debug({ event: 'malformed', source: peer.address, port: peer.port, code: err.code }, err.reason);
      return;
    }
    const status = err.code === 'bad-version' ? 505 : 400;
    const reason = status === 505 ? 'Version Not Supported' : err.reason;
    this.answer(req, peer, { code: status, reason }, '', 'bad-request');
  }
}
