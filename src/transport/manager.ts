import type { Destination, ListenerInfo, MessageHandler, Peer, TransportName } from '../net/peer.js';
import type { SipParseError } from '../sip/errors.js';
import { type KeepAliveHandler, type StreamOptions, StreamTransport, type TlsFiles } from './stream.js';
import { UdpListener } from './udp.js';

export interface ListenerSpec {
  transport: TransportName;
  address: string;
  port: number;
  family: 4 | 6;
  /** host and port written in SIP headers; defaults to the bound address and port. */
  advertiseHost?: string;
  advertisePort?: number;
  tls?: TlsFiles;
}

/**
 * Every socket sipwarden owns: UDP listeners, TCP/TLS servers and connections. The only
 * module that touches sockets; the proxy sees messages, peers and destinations.
 */
export class TransportManager {
  readonly listeners: ListenerInfo[] = [];
  private readonly udp: Array<UdpListener | undefined> = [];
  readonly stream: StreamTransport;
  /** Messages that could not be sent (no listener for the transport or family). */
  unroutable = 0;

  constructor(
    streamOptions: StreamOptions,
    private readonly onMessage: MessageHandler,
    /** Every keep-alive: UDP ones one by one, stream ones `count` at a time (false: refused, no pong). */
    private readonly onKeepAlive: KeepAliveHandler,
    onFramingError: (peer: Peer, err: SipParseError) => void,
  ) {
    this.stream = new StreamTransport(streamOptions, onMessage, onKeepAlive, onFramingError);
  }

  /** Binds one listener; rejects with the socket error (EADDRINUSE, EACCES...). */
  async add(spec: ListenerSpec): Promise<ListenerInfo> {
    const info: ListenerInfo = {
      index: this.listeners.length,
      transport: spec.transport,
      address: spec.address,
      port: spec.port,
      family: spec.family,
      sipHost: spec.advertiseHost ?? (spec.family === 6 ? `[${spec.address}]` : spec.address),
      sipPort: spec.advertisePort ?? spec.port,
    };
    if (spec.transport === 'udp') {
      const l = new UdpListener(info, this.onMessage, this.onKeepAlive);
      await l.bind();
      this.udp[info.index] = l;
    } else {
      await this.stream.listen(info, spec.tls);
      this.udp[info.index] = undefined;
    }
    this.listeners.push(info);
    return info;
  }

  /** The listener to use for a transport and address family, preferring `preferred`. */
  pick(transport: TransportName, family: 4 | 6, preferred = -1): ListenerInfo | undefined {
    if (preferred >= 0) {
      const p = this.listeners[preferred];
      if (p && p.transport === transport && p.family === family && this.isOpen(p.index)) return p;
    }
    for (const l of this.listeners)
      if (l.transport === transport && l.family === family && this.isOpen(l.index)) return l;
    // TCP and TLS connections can be opened without a listener of that transport; name any
    // listener of the family in headers.
    if (transport !== 'udp') {
      for (const l of this.listeners) if (l.family === family && this.isOpen(l.index)) return l;
    }
    return undefined;
  }

  /** True for a TCP/TLS connection sipwarden opened (never for one it accepted). */
  isOutbound(connId: number): boolean {
    return connId !== 0 && this.stream.isOutbound(connId);
  }

  private readonly closed = new Set<number>();

  private isOpen(index: number): boolean {
    return !this.closed.has(index);
  }

  /**
   * Sends a message. Over TCP/TLS, `dest.connId` names the connection to use when it is still
   * open and its peer is `dest.address`; otherwise one to the address and port is reused or
   * opened, unless `existingOnly` (an answer to the outside: the phone's own connection only).
   * False when nothing was sent.
   */
  send(dest: Destination, data: Buffer, existingOnly = false): boolean {
    if (dest.transport === 'udp') {
      const info = this.pick('udp', dest.family, dest.listener);
      const l = info ? this.udp[info.index] : undefined;
      if (l === undefined) {
        this.unroutable++;
        return false;
      }
      l.send(data, dest.port, dest.address);
      return true;
    }
    if (dest.connId !== 0 && this.stream.sendOn(dest.connId, data, dest.address)) return true;
    if (existingOnly) return false;
    const info = this.pick(dest.transport, dest.family, dest.listener);
    return this.stream.sendTo(dest.transport, dest.address, dest.port, dest.family, info?.index ?? -1, data);
  }

  /** A TLS listener's renewed certificate and key, for new connections (see StreamTransport.setTlsFiles). */
  setTlsFiles(index: number, tls: TlsFiles): void {
    this.stream.setTlsFiles(index, tls);
  }

  /** Closes the listeners with these indexes (configuration reload removed them). */
  async remove(indexes: Set<number>): Promise<void> {
    for (const i of indexes) {
      this.closed.add(i);
      const u = this.udp[i];
      if (u) {
        await u.close();
        this.udp[i] = undefined;
      }
    }
    await this.stream.closeListeners(indexes);
  }

  async close(): Promise<void> {
    await Promise.all(this.udp.map((u) => u?.close()));
    await this.stream.close();
  }

  /** Counters for logs and metrics. */
  stats(): Record<string, number> {
    return {
      udpSendErrors: this.udpSendErrors,
      unroutable: this.unroutable,
      connections: this.stream.connectionCount,
      outsideConnections: this.stream.outsideConnections,
      upstreamConnections: this.stream.upstreamConnections,
      rejectedConnections: this.stream.rejectedConnections,
      refusedOutbound: this.stream.refusedOutbound,
      unsentMessages: this.stream.unsentMessages,
      outputOverflows: this.stream.outputOverflows,
      tlsHandshakeTimeouts: this.stream.tlsHandshakeTimeouts,
      tlsErrors: this.stream.tlsErrors,
      closedByBan: this.stream.closedByBan,
      pingsUnanswered: this.stream.pingsUnanswered,
      framingErrors: this.stream.framingErrors,
    };
  }

  get udpSendErrors(): number {
    let n = 0;
    for (const u of this.udp) n += u?.sendErrors ?? 0;
    return n;
  }
}
