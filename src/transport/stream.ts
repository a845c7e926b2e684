import { createServer as createTcpServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { type ConnectionOptions, createServer as createTlsServer, connect as tlsConnect } from 'node:tls';
import { SipParseError } from '../sip/errors.js';
import { StreamFramer } from '../sip/framer.js';
import type { ParseLimits } from '../sip/limits.js';
import type { ListenerInfo, MessageHandler, Peer, TransportName } from './types.js';

export interface StreamOptions {
  idleTimeoutMs: number;
  connectTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  limits: ParseLimits;
}

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

/** One TCP or TLS connection, accepted or opened by sipwarden, with its framer. */
export class Connection {
  readonly framer: StreamFramer;
  readonly peer: Peer;
  ready: boolean;
  /** Opened by sipwarden (to an upstream or a phone's address), not accepted. */
  outbound = false;
  private queue: Buffer[] = [];

  constructor(
    readonly id: number,
    readonly socket: Socket,
    transport: TransportName,
    listener: number,
    address: string,
    port: number,
    family: 4 | 6,
    limits: ParseLimits,
    ready: boolean,
  ) {
    this.framer = new StreamFramer(limits);
    this.peer = { transport, address, port, family, listener, connId: id };
    this.ready = ready;
  }

  send(data: Buffer): void {
    if (!this.ready) {
      this.queue.push(data);
      return;
    }
    this.socket.write(data);
  }

  markReady(): void {
    this.ready = true;
    for (const d of this.queue) this.socket.write(d);
    this.queue = [];
  }
}

let nextConnId = 1;

/**
 * All TCP/TLS connections of one transport manager: the listening servers, accepted
 * connections, and connections opened to upstream targets or back to clients. Enforces
 * the connection limits and the idle timeout; framing errors close the connection.
 */
export class StreamTransport {
  private readonly servers: Array<{ info: ListenerInfo; server: Server }> = [];
  private readonly byId = new Map<number, Connection>();
  /** "transport|address|port" -> connection id, for reuse. */
  private readonly byRemote = new Map<string, number>();
  private readonly perIp = new Map<string, number>();
  rejectedConnections = 0;
  framingErrors = 0;
  /**
   * TLS client options for a connection sipwarden opens to this address and port (the
   * upstream's certificate checks); undefined: no verification (a phone's own TLS server).
   */
  tlsOptionsFor: ((address: string, port: number) => ConnectionOptions | undefined) | undefined = undefined;
  /** Called when a connection sipwarden opened fails before it is established. */
  onConnectFailed: ((transport: TransportName, address: string, port: number) => void) | undefined = undefined;

  constructor(
    private readonly options: StreamOptions,
    private readonly onMessage: MessageHandler,
    private readonly onFramingError: (peer: Peer, err: SipParseError) => void,
  ) {}

  /** True for a live connection that sipwarden opened itself. */
  isOutbound(connId: number): boolean {
    return this.byId.get(connId)?.outbound === true;
  }

  get connectionCount(): number {
    return this.byId.size;
  }

  listen(info: ListenerInfo, tls?: TlsFiles): Promise<void> {
    const onSocket = (socket: Socket) => this.accept(info, socket);
    const server =
      info.transport === 'tls' && tls
        ? createTlsServer({ cert: tls.cert, key: tls.key }, onSocket)
        : createTcpServer(onSocket);
    // TLS handshake failures and resets are per-connection events, never fatal.
    server.on('tlsClientError', () => {
      this.rejectedConnections++;
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: info.address, port: info.port, ipv6Only: info.family === 6, exclusive: true }, () => {
        server.off('error', reject);
        server.on('error', () => {});
        const addr = server.address();
        if (info.port === 0 && addr && typeof addr === 'object') {
          info.port = addr.port;
          if (info.sipPort === 0) info.sipPort = addr.port;
        }
        this.servers.push({ info, server });
        resolve();
      });
    });
  }

  /** Set by the server: true for a source whose connections are closed at once (a banned one). */
  refuseConnection: ((address: string) => boolean) | undefined = undefined;

  private accept(info: ListenerInfo, socket: Socket): void {
    const address = stripMapped(socket.remoteAddress ?? '');
    const port = socket.remotePort ?? 0;
    const count = this.perIp.get(address) ?? 0;
    if (
      this.byId.size >= this.options.maxConnections ||
      count >= this.options.maxConnectionsPerIp ||
      this.refuseConnection?.(address) === true
    ) {
      this.rejectedConnections++;
      socket.destroy();
      return;
    }
    const family: 4 | 6 = socket.remoteFamily === 'IPv6' && address.includes(':') ? 6 : 4;
    this.register(
      new Connection(
        nextConnId++,
        socket,
        info.transport,
        info.index,
        address,
        port,
        family,
        this.options.limits,
        true,
      ),
    );
  }

  /**
   * Sends on an existing connection; false if it is gone, or (with `address`) if its peer is
   * not that address: a connection id read from a message never reaches another client.
   */
  sendOn(connId: number, data: Buffer, address?: string): boolean {
    const c = this.byId.get(connId);
    if (c === undefined || c.socket.destroyed) return false;
    if (address !== undefined && c.peer.address !== address) return false;
    c.send(data);
    return true;
  }

  /**
   * Sends to a remote address over an existing connection to it, or opens one
   * (listener gives the local identity used for the new connection's messages).
   */
  sendTo(transport: TransportName, address: string, port: number, family: 4 | 6, listener: number, data: Buffer): void {
    const key = remoteKey(transport, address, port);
    const id = this.byRemote.get(key);
    if (id !== undefined && this.sendOn(id, data)) return;
    const conn = this.open(transport, address, port, family, listener);
    if (conn !== undefined) conn.send(data);
  }

  private open(
    transport: TransportName,
    address: string,
    port: number,
    family: 4 | 6,
    listener: number,
  ): Connection | undefined {
    if (this.byId.size >= this.options.maxConnections) {
      this.rejectedConnections++;
      return undefined;
    }
    const socket =
      transport === 'tls'
        ? tlsConnect({ rejectUnauthorized: false, ...this.tlsOptionsFor?.(address, port), host: address, port })
        : netConnect({ host: address, port });
    const conn = new Connection(
      nextConnId++,
      socket,
      transport,
      listener,
      address,
      port,
      family,
      this.options.limits,
      false,
    );
    conn.outbound = true;
    const timer = setTimeout(() => socket.destroy(), this.options.connectTimeoutMs);
    socket.once(transport === 'tls' ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      conn.markReady();
    });
    socket.once('close', () => {
      clearTimeout(timer);
      if (!conn.ready) this.onConnectFailed?.(transport, address, port);
    });
    this.register(conn);
    return conn;
  }

  private register(conn: Connection): void {
    const { socket, peer } = conn;
    this.byId.set(conn.id, conn);
    const key = remoteKey(peer.transport, peer.address, peer.port);
    this.byRemote.set(key, conn.id);
    this.perIp.set(peer.address, (this.perIp.get(peer.address) ?? 0) + 1);
    socket.setNoDelay(true);
    socket.setTimeout(this.options.idleTimeoutMs, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => this.onData(conn, chunk));
    socket.on('error', () => {});
    socket.once('close', () => {
      this.byId.delete(conn.id);
      if (this.byRemote.get(key) === conn.id) this.byRemote.delete(key);
      const n = (this.perIp.get(peer.address) ?? 1) - 1;
      if (n <= 0) this.perIp.delete(peer.address);
      else this.perIp.set(peer.address, n);
    });
  }

  private onData(conn: Connection, chunk: Buffer): void {
    let frames: ReturnType<StreamFramer['push']>;
    try {
      frames = conn.framer.push(chunk);
    } catch (err) {
      this.framingErrors++;
      if (err instanceof SipParseError) this.onFramingError(conn.peer, err);
      conn.socket.destroy();
      return;
    }
    for (const f of frames) {
      if (f.kind === 'message') this.onMessage(f.data, conn.peer);
      else if (f.kind === 'ping') conn.send(PONG);
    }
  }

  /** Stops accepting, ends every connection gracefully (FIN), then destroys stragglers. */
  async close(): Promise<void> {
    await Promise.all(this.servers.map(({ server }) => new Promise<void>((r) => server.close(() => r()))));
    for (const c of this.byId.values()) c.socket.end();
    const deadline = setTimeout(() => {
      for (const c of this.byId.values()) c.socket.destroy();
    }, 2000);
    deadline.unref();
  }

  /** Closes the servers of these listeners only (reload removed them). */
  async closeListeners(indexes: Set<number>): Promise<void> {
    const keep: typeof this.servers = [];
    const closing: Promise<void>[] = [];
    for (const s of this.servers) {
      if (indexes.has(s.info.index)) closing.push(new Promise<void>((r) => s.server.close(() => r())));
      else keep.push(s);
    }
    this.servers.length = 0;
    this.servers.push(...keep);
    await Promise.all(closing);
  }
}

const PONG = Buffer.from('\r\n');

function remoteKey(transport: TransportName, address: string, port: number): string {
  return `${transport}|${address}|${port}`;
}

/** `::ffff:1.2.3.4` -> `1.2.3.4` (dual-stack sockets report IPv4 peers this way). */
export function stripMapped(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
