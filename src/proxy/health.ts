import { randomBytes } from 'node:crypto';
import type { EventBus } from '../core/events.js';
import type { Peer } from '../net/peer.js';
import type { SipMessage } from '../sip/message.js';
import type { TransportManager } from '../transport/manager.js';
import { PING_PREFIX } from './branch.js';
import type { Target, Upstreams } from './upstreams.js';

/**
 * Upstream health: an OPTIONS ping to every target at its upstream's interval. A target
 * that leaves `failures` pings in a row unanswered (or whose TCP/TLS connection is refused)
 * is taken out of rotation; any answer to a ping puts it back. Any response code counts as
 * an answer: a 404 or 483 still proves the target is alive. Each change is an `upstream` event.
 */
export class HealthChecker {
  private timers: NodeJS.Timeout[] = [];
  // A random start: the outside cannot guess a ping's branch.
  private seq = randomBytes(4).readUInt32BE(0) >>> 2; // CSeq numbers stay below 2^31
  private readonly callIdBase = randomBytes(6).toString('hex');

  constructor(
    private readonly upstreams: Upstreams,
    private readonly transports: TransportManager,
    private readonly events: EventBus,
  ) {}

  start(): void {
    for (const { spec, targets } of this.upstreams.byName.values()) {
      const ping = spec.ping;
      if (ping === false) continue;
      for (const target of targets) {
        const timer = setInterval(() => this.ping(target, ping.timeoutMs, ping.failures), ping.intervalMs);
        timer.unref();
        this.timers.push(timer);
        // First ping soon after start, so a dead target is noticed quickly.
        const first = setTimeout(
          () => this.ping(target, ping.timeoutMs, ping.failures),
          Math.min(1000, ping.intervalMs),
        );
        first.unref();
        this.timers.push(first);
      }
    }
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
  }

  /** Answers to pings arrive here (the proxy recognises their branch). */
  onResponse(branch: string, msg: SipMessage, from: Peer): void {
    const idx = Number(branch.slice(PING_PREFIX.length, branch.indexOf('x', PING_PREFIX.length)));
    const target = this.upstreams.all[idx];
    if (target === undefined || target.pendingPing !== branch) return;
    // Only the pinged target's answer counts (another inside host cannot vouch for it).
    if (from.address !== target.spec.address) return;
    target.pendingPing = '';
    target.missed = 0;
    const now = Date.now();
    target.lastPing = { at: now, rttMs: now - target.pingSentAt, status: msg.status };
    if (!target.up) {
      target.up = true;
      this.report(target, 'up', '');
    }
  }

  /** A TCP/TLS connection to this address was refused or timed out. */
  onUnreachable(transport: string, address: string, port: number): void {
    for (const t of this.upstreams.all) {
      if (t.spec.transport === transport && t.spec.address === address && t.spec.port === port)
        this.markDown(t, 'unreachable');
    }
  }

  private markDown(target: Target, why: string): void {
    if (!target.up) return;
    target.up = false;
    this.report(target, 'down', why);
  }

  private report(target: Target, state: 'up' | 'down', why: string): void {
    this.events.emit({
      kind: 'upstream',
      time: Date.now(),
      upstream: target.upstream,
      target: target.spec.url,
      state,
      why,
    });
  }

  private ping(target: Target, timeoutMs: number, failures: number): void {
    const t = target.spec;
    const out = this.transports.pick(t.transport, t.family);
    if (out === undefined) return;
    const seq = ++this.seq;
    const branch = `${PING_PREFIX}${target.index}x${seq}`;
    const host = `${out.sipHost}:${out.sipPort}`;
    const ruri = `sip:${t.family === 6 ? `[${t.address}]` : t.address}:${t.port}`;
    const text =
      `OPTIONS ${ruri} SIP/2.0\r\n` +
      `Via: SIP/2.0/${t.transport.toUpperCase()} ${host};branch=${branch};rport\r\n` +
      'Max-Forwards: 70\r\n' +
      `From: <sip:${host}>;tag=${this.callIdBase}\r\n` +
      `To: <${ruri}>\r\n` +
      `Call-ID: ${this.callIdBase}-${target.index}-${seq}\r\n` +
      `CSeq: ${seq} OPTIONS\r\n` +
      'Content-Length: 0\r\n\r\n';
    target.pendingPing = branch;
    target.pingSentAt = Date.now();
    this.transports.send(
      { transport: t.transport, address: t.address, port: t.port, family: t.family, listener: out.index, connId: 0 },
      Buffer.from(text, 'latin1'),
    );
    const timer = setTimeout(() => {
      if (target.pendingPing !== branch) return;
      target.pendingPing = '';
      target.missed++;
      target.lastPing = { at: Date.now(), rttMs: null, status: 'timeout' };
      if (target.missed >= failures) this.markDown(target, `${target.missed} pings unanswered`);
    }, timeoutMs);
    timer.unref();
  }
}
