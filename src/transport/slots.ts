import type { Socket } from 'node:net';
import { prefixKey } from '../net/ip.js';

export interface SlotLimits {
  /** Most connections at once, of both kinds. */
  maxConnections: number;
  /** Most outside connections at once from one address group. */
  maxConnectionsPerIp: number;
  /** Slots of maxConnections that only upstream connections may use. */
  upstreamReserve: number;
  /** IPv6 addresses are grouped by this prefix (the flood guard's), IPv4 per address. */
  ipv6Prefix: number;
}

/**
 * `outside`: a connection accepted from anyone (counted from the moment of accept, so TLS
 * handshakes in progress count), or opened by sipwarden towards a phone.
 * `upstream`: a connection sipwarden opens to an upstream target.
 */
export type SlotKind = 'outside' | 'upstream';

/** One counted connection, from accept or open until its socket closes. */
export interface Slot {
  readonly kind: SlotKind;
  /** The remote address ('' unknown). */
  readonly address: string;
  /** Per-address key: the address, or for IPv6 its prefix; '' for upstream slots. */
  readonly group: string;
  /** The socket to close when the address is banned (set once it exists). */
  socket: Socket | undefined;
  released: boolean;
}

/**
 * The connection table's accounting, so that no one class of connection can starve another:
 *
 * - at most `maxConnections` connections in all;
 * - outside connections at most `maxConnections - upstreamReserve` together, and at most
 *   `maxConnectionsPerIp` per address group (an IPv6 source owns a whole prefix, so it is
 *   counted per prefix, as the flood guard counts it);
 * - upstream connections may take any free slot, the reserve included: filling the table
 *   from the outside can never stop sipwarden from reaching its upstreams.
 */
export class ConnectionSlots {
  private outside = 0;
  private upstream = 0;
  private readonly groups = new Map<string, Set<Slot>>();

  constructor(private readonly limits: SlotLimits) {}

  get outsideCount(): number {
    return this.outside;
  }

  get upstreamCount(): number {
    return this.upstream;
  }

  /** The per-address key of an address; undefined for something that is not an address. */
  groupOf(address: string): string | undefined {
    try {
      return prefixKey(address, 32, this.limits.ipv6Prefix);
    } catch {
      return undefined;
    }
  }

  /** Counts a connection; undefined when a limit refuses it. Release it when its socket closes. */
  take(kind: SlotKind, address: string): Slot | undefined {
    const l = this.limits;
    if (this.outside + this.upstream >= l.maxConnections) return undefined;
    if (kind === 'upstream') {
      this.upstream++;
      return { kind, address, group: '', socket: undefined, released: false };
    }
    if (this.outside >= l.maxConnections - l.upstreamReserve) return undefined;
    const group = this.groupOf(address);
    if (group === undefined) return undefined;
    let set = this.groups.get(group);
    if (set !== undefined && set.size >= l.maxConnectionsPerIp) return undefined;
    if (set === undefined) {
      set = new Set();
      this.groups.set(group, set);
    }
    const slot: Slot = { kind, address, group, socket: undefined, released: false };
    set.add(slot);
    this.outside++;
    return slot;
  }

  release(slot: Slot): void {
    if (slot.released) return;
    slot.released = true;
    if (slot.kind === 'upstream') {
      this.upstream--;
      return;
    }
    this.outside--;
    const set = this.groups.get(slot.group);
    if (set === undefined) return;
    set.delete(slot);
    if (set.size === 0) this.groups.delete(slot.group);
  }

  /**
   * The outside slots a ban of `target` (an address or a network) may cover: the target's
   * group, or every slot for a network that is not one group.
   */
  *candidates(target: string): Iterable<Slot> {
    const key = target.includes('/') ? target : this.groupOf(target);
    const own = key === undefined ? undefined : this.groups.get(key);
    if (own !== undefined) {
      yield* [...own];
      return;
    }
    if (!target.includes('/')) return;
    for (const set of [...this.groups.values()]) yield* [...set];
  }
}
