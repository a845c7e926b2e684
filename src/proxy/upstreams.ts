import { hash53 } from '../net/hash.js';
import type { TransportName } from '../net/peer.js';
import { hostAddress, type SipUri } from '../sip/uri.js';

export interface PingSettings {
  intervalMs: number;
  timeoutMs: number;
  /** Unanswered pings in a row that take a target out of rotation. */
  failures: number;
}

export interface TargetSpec {
  transport: TransportName;
  /** IP address (resolved), no brackets. */
  address: string;
  port: number;
  family: 4 | 6;
  /** As configured, for logs. */
  url: string;
  /** Certificate checks when transport is tls. */
  tls?: { verify: boolean; ca: Buffer | undefined; serverName: string | undefined };
}

export interface UpstreamSpec {
  name: string;
  targets: TargetSpec[];
  ping: PingSettings | false;
}

/** One upstream target and its health as seen by the OPTIONS pinger and the transports. */
export class Target {
  up = true;
  /** Unanswered pings in a row. */
  missed = 0;
  /** Branch of the ping in flight, '' when none. */
  pendingPing = '';
  pingSentAt = 0;
  /** The last ping's outcome: its answer's status code and round trip, or `timeout`. */
  lastPing: { at: number; rttMs: number | null; status: number | 'timeout' } | null = null;

  constructor(
    readonly spec: TargetSpec,
    readonly upstream: string,
    readonly index: number,
  ) {}

  get key(): string {
    return `${this.spec.transport}|${this.spec.address}|${this.spec.port}`;
  }
}

/**
 * The configured upstreams and their targets. Picks a target for new requests by hashing
 * the Call-ID over the targets that are up, so every request of a dialog and a CANCEL
 * reach the same target without any state.
 */
export class Upstreams {
  readonly byName = new Map<string, { spec: UpstreamSpec; targets: Target[] }>();
  readonly all: Target[] = [];
  /** port -> address -> target */
  private readonly byPort = new Map<number, Map<string, Target>>();
  private readonly addresses = new Set<string>();

  constructor(
    specs: UpstreamSpec[],
    readonly defaultName: string,
  ) {
    for (const spec of specs) {
      const targets = spec.targets.map((t) => {
        const target = new Target(t, spec.name, this.all.length);
        this.all.push(target);
        const byAddress = this.byPort.get(t.port) ?? new Map<string, Target>();
        this.byPort.set(t.port, byAddress);
        byAddress.set(t.address, target);
        this.addresses.add(t.address);
        return target;
      });
      this.byName.set(spec.name, { spec, targets });
    }
  }

  /** A healthy target of the upstream for this key (the Call-ID), or undefined if all are down. */
  choose(key: string, upstream = this.defaultName): Target | undefined {
    const u = this.byName.get(upstream);
    if (u === undefined) return undefined;
    const live = u.targets.filter((t) => t.up);
    if (live.length === 0) return undefined;
    if (live.length === 1) return live[0];
    return live[hash53(key, 7) % live.length];
  }

  /** The target a sip: or sips: URI names by its host and port, if it is one. */
  findUri(uri: SipUri): Target | undefined {
    if (uri.scheme !== 'sip' && uri.scheme !== 'sips') return undefined;
    return this.find(hostAddress(uri.host), uri.port ?? (uri.scheme === 'sips' ? 5061 : 5060));
  }

  /** The target at this address and port, if it is one. */
  find(address: string, port: number): Target | undefined {
    return this.byPort.get(port)?.get(address);
  }

  /** True if the address belongs to any target (messages from it come from the inside). */
  isTargetAddress(address: string): boolean {
    return this.addresses.has(address);
  }
}
