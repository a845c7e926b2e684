/**
 * Modules and their hooks: everything that is not routing plugs into a message's way through
 * sipwarden here, as pjsip modules do (`on_rx_request`, `on_tx_request`) and reSIProcate repro's
 * request and response processor chains.
 *
 * A message from the outside meets, in order:
 *   onSource (before parsing; keep-alives too) -> onRequestFromOutside | onResponseFromOutside
 *   -> routing -> onRequestToInside | onResponseToInside -> socket
 * and one from the inside:
 *   onRequestFromInside | onResponseFromInside -> routing -> onRequestToOutside (or ToInside,
 *   for a request between two inside hops) | onResponseToOutside -> socket
 *
 * Each stage runs the modules that have its hook, in registry order. A hook sees the message's
 * context and may end the message (ctx.drop, ctx.reply, ctx.take), give a verdict
 * (ctx.decide), or edit the forwarded copy (ctx.writer, in the `*To*` hooks). A hook may return
 * a promise: the stage waits for it, and messages of the same Call-ID (of the same source,
 * before parsing) wait behind it, so retransmissions and in-dialog requests keep their order.
 * A stage whose hooks all return nothing runs synchronously and costs no promise. A hook that
 * throws or rejects ends its message's way (logged as `hook-failed` before parsing, else
 * `message-failed`); the messages queued behind it go on.
 */
import type { MessageContext } from './context.js';

/** What a hook returns: nothing (done), or a promise the stage waits for. */
export type Hooked = void | Promise<void>;
export type Hook = (ctx: MessageContext) => Hooked;

/** See `Module.onRequestNotSent`. */
export type NotSentHook = (ctx: MessageContext) => void;

/** A connection accepted from `address` (TCP/TLS): false refuses it. Synchronous. */
export type ConnectionHook = (address: string) => boolean;

export interface Module {
  /** Short name, as in logs and metrics. */
  readonly name: string;
  /** A TCP/TLS connection was accepted from the outside: return false to close it at once. */
  onConnection?: ConnectionHook;
  /** A message or keep-alive from the outside, before parsing (`ctx.msg` is not set). */
  onSource?: Hook;
  onRequestFromOutside?: Hook;
  onResponseFromOutside?: Hook;
  onRequestFromInside?: Hook;
  onResponseFromInside?: Hook;
  /** A request about to be forwarded to the inside (ctx.writer, ctx.branch set; target not chosen yet). */
  onRequestToInside?: Hook;
  /**
   * A request whose `onRequestToInside` hooks ran was not sent after all: routing answered it
   * itself (no upstream target up) or had no socket for it. No answer from the inside will come.
   * Synchronous.
   */
  onRequestNotSent?: NotSentHook;
  /** A request about to be forwarded to the outside (ctx.writer, ctx.destination, ctx.out set). */
  onRequestToOutside?: Hook;
  /** A response about to be forwarded to the inside (ctx.writer, ctx.destination set). */
  onResponseToInside?: Hook;
  /** A response about to be forwarded to the outside (ctx.writer, ctx.destination set). */
  onResponseToOutside?: Hook;
  /**
   * True when messages from (or to) this peer count as coming from (going to) the inside,
   * besides trusted addresses and upstream targets (an external honeypot).
   */
  isInsidePeer?(transport: string, address: string, port: number): boolean;
  /** Stops timers, closes files. */
  close?(): void;
}

export type Stage =
  | 'onSource'
  | 'onRequestFromOutside'
  | 'onResponseFromOutside'
  | 'onRequestFromInside'
  | 'onResponseFromInside'
  | 'onRequestToInside'
  | 'onRequestToOutside'
  | 'onResponseToInside'
  | 'onResponseToOutside';

const STAGES: readonly Stage[] = [
  'onSource',
  'onRequestFromOutside',
  'onResponseFromOutside',
  'onRequestFromInside',
  'onResponseFromInside',
  'onRequestToInside',
  'onRequestToOutside',
  'onResponseToInside',
  'onResponseToOutside',
];

/** The modules in force, compiled into one list of hooks per stage (rebuilt on reload). */
export class Pipeline {
  readonly stages: Readonly<Record<Stage, readonly Hook[]>>;
  private readonly connectionHooks: readonly ConnectionHook[];
  private readonly insidePeers: readonly NonNullable<Module['isInsidePeer']>[];
  private readonly notSentHooks: readonly NotSentHook[];

  constructor(readonly modules: readonly Module[]) {
    const stages = {} as Record<Stage, Hook[]>;
    for (const s of STAGES) {
      stages[s] = [];
      for (const m of modules) {
        const h = m[s];
        if (h !== undefined) stages[s].push(h.bind(m));
      }
    }
    this.stages = stages;
    this.connectionHooks = modules.flatMap((m) => (m.onConnection === undefined ? [] : [m.onConnection.bind(m)]));
    this.insidePeers = modules.flatMap((m) => (m.isInsidePeer === undefined ? [] : [m.isInsidePeer.bind(m)]));
    this.notSentHooks = modules.flatMap((m) => (m.onRequestNotSent === undefined ? [] : [m.onRequestNotSent.bind(m)]));
  }

  static readonly EMPTY = new Pipeline([]);

  /** False when a module refuses a connection from this address. */
  acceptsConnection(address: string): boolean {
    for (const h of this.connectionHooks) if (!h(address)) return false;
    return true;
  }

  isInsidePeer(transport: string, address: string, port: number): boolean {
    for (const h of this.insidePeers) if (h(transport, address, port)) return true;
    return false;
  }

  /** Tells the modules that a request their `onRequestToInside` hooks saw was not sent. */
  requestNotSent(ctx: MessageContext): void {
    for (const h of this.notSentHooks) h(ctx);
  }

  /** Runs a stage's hooks (`runHooks`); routing calls `runHooks` on `stages.<stage>` directly. */
  run(stage: Stage, ctx: MessageContext): Promise<void> | undefined {
    return runHooks(this.stages[stage], ctx, 0);
  }
}

/**
 * Runs a stage nobody waits for (a keep-alive's source hooks): a hook that throws or rejects is
 * reported to `onError`, never thrown (a throw would escape the socket's handler, an unhandled
 * rejection would stop the process). 'waiting': a hook returned a promise, not waited for.
 */
export function runDetached(
  pipeline: Pipeline,
  stage: Stage,
  ctx: MessageContext,
  onError: (err: unknown) => void,
): 'done' | 'waiting' | 'failed' {
  let waiting: Promise<void> | undefined;
  try {
    waiting = pipeline.run(stage, ctx);
  } catch (err) {
    onError(err);
    return 'failed';
  }
  if (waiting === undefined) return 'done';
  waiting.catch(onError);
  return 'waiting';
}

/**
 * Runs hooks in order until one ends the message or gives a blocking verdict. Returns undefined
 * when every hook ran synchronously, else a promise settled when the last one is done.
 */
export function runHooks(hooks: readonly Hook[], ctx: MessageContext, from = 0): Promise<void> | undefined {
  for (let i = from; i < hooks.length; i++) {
    const r = hooks[i]!(ctx);
    if (r !== undefined && typeof (r as Promise<void>).then === 'function') {
      return (r as Promise<void>).then(() => (stops(ctx) ? undefined : runHooks(hooks, ctx, i + 1)));
    }
    if (stops(ctx)) return undefined;
  }
  return undefined;
}

/** A stage stops at an ending, or at a blocking verdict other than `honeypot` (the honeypot module, later, may take it). */
function stops(ctx: MessageContext): boolean {
  if (ctx.ending !== undefined) return true;
  const a = ctx.verdict.action;
  return a === 'drop' || a === 'reply' || a === 'ban';
}
