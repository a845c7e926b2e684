/**
 * The honeypot: where sources flagged `honeypot` (by any guard, or the bans guard with
 * `action: honeypot`) go instead of being blocked. It records what they try and either
 * answers them itself (Responder) or has the proxy forward their requests to an external
 * honeypot (`forward`).
 *
 * Never a reflection weapon: answers are rate limited per source and globally, and over UDP
 * an address that never proved it receives our answers (by echoing our To tag or nonce) is
 * sent at most `amplificationFactor` times the bytes it sent.
 */
import type { EventBus } from '../core/events.js';
import { sanitize } from '../log/sanitize.js';
import type { EventLogger } from '../log/types.js';
import type { Destination, ListenerInfo, Peer, TransportName } from '../net/peer.js';
import { RateLimit } from '../net/rate-limit.js';
import { SipParseError } from '../sip/errors.js';
import type { SipMessage } from '../sip/message.js';
import { canReplyTo } from '../sip/reply.js';
import type { HoneypotConfig } from './config.js';
import type { AttackStore, Observation } from './records.js';
import { Responder } from './responder.js';
import { type HoneypotSources, mayReflect, SourceTable } from './sources.js';
import { HoneypotTokens } from './tokens.js';

/** What the proxy asks of the honeypot. */
export interface HoneypotHook {
  /** The external honeypot flagged requests are forwarded to, or undefined (built-in responder). */
  readonly forwardTarget: Destination | undefined;
  /** True for the external honeypot's address (and port, over UDP): its messages come from the inside. */
  isForwardTarget(transport: TransportName, address: string, port: number): boolean;
  /** True while every message of this address (of its source: its /64 for IPv6) goes to the honeypot. */
  holds(address: string): boolean;
  /**
   * Takes a message of a source sent to the honeypot (`guard`/`rule` that sent it, `guard`
   * empty for a held source). True when the proxy should forward it to `forwardTarget`.
   */
  take(msg: SipMessage, peer: Peer, bytes: number, guard: string, rule: string): boolean;
  /** Messages taken, by the guard that sent them (`held`: a source already in the honeypot). */
  readonly byGuard: Map<string, number>;
}

/** What the honeypot sends through: the transport manager satisfies it. */
export interface HoneypotTransport {
  readonly listeners: readonly ListenerInfo[];
  send(dest: Destination, data: Buffer): boolean;
}

/** How long a source stays held after its last message in the honeypot. */
export const HOLD_MS = 600_000;
/** Most sources tracked (hold, budget, reflection counters). */
export const MAX_SOURCES = 65_536;

export interface HoneypotStats {
  taken: number;
  answered: number;
  forwarded: number;
  absorbed: number;
  rateLimited: number;
  /** Datagrams not sent because of the reflection bound. */
  reflectionRefused: number;
  sent: number;
  bytesSent: number;
  malformed: number;
}

export class Honeypot implements HoneypotHook {
  readonly byGuard = new Map<string, number>();
  readonly stats: HoneypotStats = {
    taken: 0,
    answered: 0,
    forwarded: 0,
    absorbed: 0,
    rateLimited: 0,
    reflectionRefused: 0,
    sent: 0,
    bytesSent: 0,
    malformed: 0,
  };
  private readonly tokens = new HoneypotTokens();
  private readonly sources: SourceTable;
  private readonly responder: Responder;
  private global: RateLimit;
  private globalRate: number;
  private config: Readonly<HoneypotConfig>;
  forwardTarget: Destination | undefined;

  constructor(
    config: Readonly<HoneypotConfig>,
    /** Requests answered per second, all sources together. */
    globalRate: number,
    private readonly transport: HoneypotTransport,
    readonly records: AttackStore,
    private readonly log: EventLogger,
    /** What one source is, and who is never held (`sources`, `guards.never_ban`). */
    private sourcePolicy: HoneypotSources,
    /** Where a source entering the honeypot is reported (a `honeypot` event). */
    private readonly events?: EventBus,
  ) {
    this.config = config;
    this.globalRate = globalRate;
    this.global = new RateLimit(globalRate);
    this.sources = new SourceTable(MAX_SOURCES, config.repliesPerSecond, HOLD_MS);
    this.responder = new Responder(
      settingsOf(config),
      this.tokens,
      (peer) => this.transport.listeners[peer.listener],
      this.send,
    );
    this.forwardTarget = targetOf(config);
  }

  reconfigure(config: Readonly<HoneypotConfig>, globalRate: number, sources: HoneypotSources): void {
    this.config = config;
    this.sourcePolicy = sources;
    this.sources.setRate(config.repliesPerSecond);
    if (globalRate !== this.globalRate) {
      this.globalRate = globalRate;
      this.global = new RateLimit(globalRate);
    }
    this.responder.reconfigure(settingsOf(config));
    this.forwardTarget = targetOf(config);
  }

  isForwardTarget(transport: TransportName, address: string, port: number): boolean {
    const t = this.forwardTarget;
    if (t === undefined || t.address !== address) return false;
    return transport === 'udp' ? t.transport === 'udp' && t.port === port : t.transport !== 'udp';
  }

  holds(address: string): boolean {
    // Runs for every message from the outside: nothing is computed while nobody was held.
    if (this.sources.heldSources === 0) return false;
    return this.sources.holds(this.sourcePolicy.keyOf(address), Date.now());
  }

  take(msg: SipMessage, peer: Peer, bytes: number, guard: string, rule: string): boolean {
    const now = Date.now();
    const { entry, created } = this.sources.touch(peer.address, now);
    // A never_ban peer (a trunk whose address may be forged) is not held: only this message goes here.
    if (!this.sourcePolicy.spares(peer.address)) this.sources.hold(this.sourcePolicy.keyOf(peer.address), now);
    if (peer.transport === 'udp') entry.received += bytes;
    else entry.verified = true; // the TCP handshake proved the address
    this.stats.taken++;
    if (created) this.reportNewSource(peer, guard, rule, now);
    try {
      if (msg.isRequest) this.records.note(observation(msg, peer, now, guard === '' ? 'held' : `${guard}/${rule}`));
      if (this.forwardTarget !== undefined) {
        if (!msg.isRequest) return true;
        if (!this.sources.take(entry, now) || !this.global.take()) {
          this.stats.rateLimited++;
          return false;
        }
        this.stats.forwarded++;
        return true;
      }
      if (!msg.isRequest || !canReplyTo(msg)) {
        this.stats.absorbed++;
        return false;
      }
      const ours = this.echoesOurs(msg, peer, now);
      if (ours) entry.verified = true;
      if (msg.method === 'ACK') {
        // Our To tag in the ACK: the caller took the call. Only a proven address gets a BYE later.
        if (ours && msg.to.tag !== undefined) this.responder.ack(msg, peer);
        this.stats.absorbed++;
        return false;
      }
      if (!this.sources.take(entry, now) || !this.global.take()) {
        this.stats.rateLimited++;
        return false;
      }
      this.stats.answered++;
      this.responder.answer(msg, peer, now);
    } catch (err) {
      if (!(err instanceof SipParseError)) throw err;
      this.stats.malformed++;
    }
    return false;
  }

  /** True when the request carries our To tag, or (REGISTER) credentials for our nonce. */
  private echoesOurs(msg: SipMessage, peer: Peer, now: number): boolean {
    const tag = msg.to.tag;
    if (tag !== undefined && tag === this.tokens.tag(peer.address, msg.callId)) return true;
    if (msg.method !== 'REGISTER') return false;
    const nonce = msg.authorization?.nonce;
    return nonce !== undefined && this.tokens.isNonce(peer.address, nonce, now);
  }

  /** Every datagram the responder sends passes here: the reflection bound. */
  private readonly send = (peer: Peer, data: Buffer): boolean => {
    const entry = this.sources.get(peer.address);
    if (!mayReflect(entry, peer.transport === 'udp', data.length, this.config.amplificationFactor)) {
      this.stats.reflectionRefused++;
      return false;
    }
    this.stats.sent++;
    this.stats.bytesSent += data.length;
    return this.transport.send(peer, data);
  };

  private reportNewSource(peer: Peer, guard: string, rule: string, now: number): void {
    const source = { transport: peer.transport, address: peer.address, port: peer.port, family: peer.family };
    this.events?.emit({ kind: 'honeypot', time: now, source, guard, rule });
  }

  /** Stops timers and writes the pending records. */
  close(): void {
    this.log.info({ event: 'honeypot-stopped', honeypot: this.stats, sources: this.sources.size }, 'honeypot stopped');
    this.responder.close();
    this.records.close();
  }
}

function settingsOf(config: Readonly<HoneypotConfig>) {
  return { server: config.server, realm: config.realm, callDuration: config.callDuration };
}

function targetOf(config: Readonly<HoneypotConfig>): Destination | undefined {
  const f = config.forward;
  if (f === undefined) return undefined;
  return {
    transport: f.transport,
    address: f.host,
    port: f.port,
    family: f.family === 6 ? 6 : 4,
    listener: -1,
    connId: 0,
  };
}

/** What a request tried, for its attack record (raw text: the store cleans it). */
function observation(msg: SipMessage, peer: Peer, now: number, reason: string): Observation {
  const invite = msg.method === 'INVITE';
  return {
    address: peer.address,
    time: now,
    method: sanitize(msg.method, 16),
    userAgent: msg.userAgent,
    usernames: [
      lenient(() => msg.authorization?.username),
      lenient(() => msg.proxyAuthorization?.username),
      lenient(() => msg.from.uri.user),
      lenient(() => msg.to.uri.user),
    ],
    number: invite ? lenient(() => msg.requestUri.user) : undefined,
    reason,
  };
}

function lenient(get: () => string | undefined): string | undefined {
  try {
    return get();
  } catch (err) {
    if (!(err instanceof SipParseError)) throw err;
    return undefined;
  }
}
