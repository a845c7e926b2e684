import { createServer as createTcpServer, connect as netConnect, type Server, type Socket } from 'node:net';
import {
  type ConnectionOptions,
  createServer as createTlsServer,
  type TLSSocket,
  Server as TlsServer,
  connect as tlsConnect,
} from 'node:tls';
import type { ListenerInfo, MessageHandler, Peer, TransportName } from '../net/peer.js';
import { SipParseError } from '../sip/errors.js';
import { StreamFramer } from '../sip/framer.js';
import type { ParseLimits } from '../sip/limits.js';
import { ConnectionSlots, type SlotKind } from './slots.js';

export interface StreamOptions {
  idleTimeoutMs: number;
  connectTimeoutMs: number;
  /** Time an accepted TLS connection has to finish its handshake. */
  tlsHandshakeTimeoutMs: number;
  /** Connection limits: see ConnectionSlots. */
  maxConnections: number;
  maxConnectionsPerIp: number;
  upstreamReserve: number;
  /** Per-address limits count IPv6 sources by this prefix (the flood guard's). */
  ipv6Prefix: number;
  /** Unsent bytes (socket buffer plus pre-connect queue) beyond which a connection is closed. */
  maxPendingOutput: number;
  /** CRLF pongs per second and connection; pings beyond that get none. */
  pongsPerSecond: number;
  limits: ParseLimits;
}

/**
 * Told of `count` CRLFCRLF keep-alives read at once on a connection; false refuses them (the
 * source is blocked: no pong).
 */
export type KeepAliveHandler = (peer: Peer, count: number) => boolean;

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
  /** Closed because its unsent output passed the bound. */
  overflowed = false;
  private queue: Buffer[] = [];
  private queued = 0;
  private pongWindow = 0;
  private pongs = 0;

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
    private readonly maxPending: number,
  ) {
    this.framer = new StreamFramer(limits);
    this.peer = { transport, address, port, family, listener, connId: id };
    this.ready = ready;
  }

  /**
   * Writes, or queues until connected. False when the data is dropped: the connection is
   * gone, or its unsent output would pass the bound, which closes it (a peer that does not
   * read, or a stalled upstream, cannot make sipwarden buffer without end).
   */
  send(data: Buffer): boolean {
    const socket = this.socket;
    if (socket.destroyed) return false;
    if (this.queued + socket.writableLength + data.length > this.maxPending) {
      this.overflowed = true;
      socket.destroy();
      return false;
    }
    if (!this.ready) {
      this.queue.push(data);
      this.queued += data.length;
      return true;
    }
    socket.write(data);
    return true;
  }

  /** Messages queued before the connection was established (lost if it never is). */
  get queuedMessages(): number {
    return this.queue.length;
  }

  markReady(): void {
    this.ready = true;
    for (const d of this.queue) this.socket.write(d);
    this.queue = [];
    this.queued = 0;
  }

  /**
   * Whether a pong may answer a ping now: at most `perSecond` in each second (RFC 5626 4.4.1
   * clients ping about every two minutes; one pong per run of pings read at once).
   */
  takePong(now: number, perSecond: number): boolean {
    if (now - this.pongWindow >= 1000) {
      this.pongWindow = now;
      this.pongs = 0;
    }
    if (this.pongs >= perSecond) return false;
    this.pongs++;
    return true;
  }
}

let nextConnId = 1;

/**
 * All TCP/TLS connections of one transport manager: the listening servers, accepted
 * connections, and connections opened to upstream targets or back to clients. Enforces
 * the connection limits (ConnectionSlots, counted from the moment a socket is accepted, TLS
 * handshakes included), the handshake and idle timeouts, the bound on unsent output and
 * the pong rate; framing errors close the connection.
 */
export class StreamTransport {
  private readonly servers: Array<{ info: ListenerInfo; server: Server }> = [];
  private readonly byId = new Map<number, Connection>();
  /** "transport|address|port" -> connection id, for reuse. */
  private readonly byRemote = new Map<string, number>();
  private readonly slots: ConnectionSlots;
  /** Accepted TLS sockets whose handshake has not completed, by listener, address and port. */
  private readonly handshaking = new Map<string, Socket>();
  /** Accepted connections refused at once: a limit or a ban. */
  rejectedConnections = 0;
  /** Connections sipwarden could not open: a limit. */
  refusedOutbound = 0;
  /**
   * Messages not sent: no slot for the connection they needed, output over the bound, or
   * queued on a connection that was never established.
   */
  unsentMessages = 0;
  /** Connections closed because their unsent output passed `maxPendingOutput`. */
  outputOverflows = 0;
  /** Accepted TLS connections closed for not finishing the handshake in time. */
  tlsHandshakeTimeouts = 0;
  /** Other TLS failures before the handshake completed (resets are not counted). */
  tlsErrors = 0;
  /** Connections closed because a ban came to cover their source. */
  closedByBan = 0;
  /** CRLFCRLF pings read but not answered: over the pong rate, or from a blocked source. */
  pingsUnanswered = 0;
  framingErrors = 0;
  /**
   * TLS client options for a connection sipwarden opens to this address and port (the
   * upstream's certificate checks); undefined: no verification (a phone's own TLS server).
   */
  tlsOptionsFor: ((address: string, port: number) => ConnectionOptions | undefined) | undefined = undefined;
  /** Called when a connection sipwarden opened fails before it is established. */
  onConnectFailed: ((transport: TransportName, address: string, port: number) => void) | undefined = undefined;
  /** True for an upstream target: connections sipwarden opens to it may use the reserved slots. */
  isUpstream: ((address: string, port: number) => boolean) | undefined = undefined;
  /** Told when a message is dropped because no connection could be opened for it (a limit). */
  onRefusedOutbound: ((transport: TransportName, address: string, port: number) => void) | undefined = undefined;

  constructor(
    private readonly options: StreamOptions,
    private readonly onMessage: MessageHandler,
    private readonly onKeepAlive: KeepAliveHandler,
    private readonly onFramingError: (peer: Peer, err: SipParseError) => void,
  ) {
    this.slots = new ConnectionSlots(options);
  }

  /** True for a live connection that sipwarden opened itself. */
  isOutbound(connId: number): boolean {
    return this.byId.get(connId)?.outbound === true;
  }

  get connectionCount(): number {
    return this.byId.size;
  }

  /** Counted connections by kind (accepted ones from the moment of accept). */
  get outsideConnections(): number {
    return this.slots.outsideCount;
  }

  get upstreamConnections(): number {
    return this.slots.upstreamCount;
  }

  listen(info: ListenerInfo, tls?: TlsFiles): Promise<void> {
    const secure = info.transport === 'tls' && tls !== undefined;
    const server = secure
      ? createTlsServer({ cert: tls.cert, key: tls.key, handshakeTimeout: this.options.tlsHandshakeTimeoutMs })
      : createTcpServer();
    // 'connection' gives the raw TCP socket, before any TLS handshake: that is where every
    // socket is counted and, over a limit, closed.
    server.on('connection', (socket: Socket) => this.admit(info, socket, secure));
    if (secure) {
      server.on('secureConnection', (socket: TLSSocket) => this.secured(info, socket));
      // Handshake failures, timeouts and resets are per-connection events, never fatal. With a
      // listener here Node leaves the socket open: close it.
      server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
        if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') this.tlsHandshakeTimeouts++;
        else if (err.code !== 'ECONNRESET') this.tlsErrors++;
        socket.destroy();
      });
    }
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

  /** A socket just accepted: counted from now until it closes, or refused. */
  private admit(info: ListenerInfo, socket: Socket, secure: boolean): void {
    const address = stripMapped(socket.remoteAddress ?? '');
    const slot = this.refuseConnection?.(address) === true ? undefined : this.slots.take('outside', address);
    if (slot === undefined) {
      this.rejectedConnections++;
      socket.destroy();
      return;
    }
    slot.socket = socket;
    socket.on('error', () => {});
    const key = `${info.index}|${remoteKey(info.transport, address, socket.remotePort ?? 0)}`;
    // A TLS socket's raw socket closes with it.
    socket.once('close', () => {
      this.slots.release(slot);
      if (this.handshaking.get(key) === socket) this.handshaking.delete(key);
    });
    if (secure) this.handshaking.set(key, socket);
    else this.register(this.accepted(info, socket, address));
  }

  /** A TLS connection whose handshake completed (its raw socket holds its slot). */
  private secured(info: ListenerInfo, socket: TLSSocket): void {
    if (socket.destroyed) return;
    const address = stripMapped(socket.remoteAddress ?? '');
    this.handshaking.delete(`${info.index}|${remoteKey(info.transport, address, socket.remotePort ?? 0)}`);
    this.register(this.accepted(info, socket, address));
  }

  private accepted(info: ListenerInfo, socket: Socket, address: string): Connection {
    const family: 4 | 6 = socket.remoteFamily === 'IPv6' && address.includes(':') ? 6 : 4;
    return new Connection(
      nextConnId++,
      socket,
      info.transport,
      info.index,
      address,
      socket.remotePort ?? 0,
      family,
      this.options.limits,
      true,
      this.options.maxPendingOutput,
    );
  }

  /**
   * Sends on an existing connection; false if it is gone, or (with `address`) if its peer is
   * not that address: a connection id read from a message never reaches another client. Data
   * that would push the connection's unsent output over the bound is dropped (counted) and the
   * connection closed.
   */
  sendOn(connId: number, data: Buffer, address?: string): boolean {
    const c = this.byId.get(connId);
    if (c === undefined || c.socket.destroyed) return false;
    if (address !== undefined && c.peer.address !== address) return false;
    this.write(c, data);
    return true;
  }

  private write(c: Connection, data: Buffer): boolean {
    if (c.send(data)) return true;
    this.unsentMessages++;
    return false;
  }

  /**
   * Sends to a remote address over an existing connection to it, or opens one
   * (listener gives the local identity used for the new connection's messages). False when
   * the message was dropped (counted).
   */
  sendTo(
    transport: TransportName,
    address: string,
    port: number,
    family: 4 | 6,
    listener: number,
    data: Buffer,
  ): boolean {
    const key = remoteKey(transport, address, port);
    const id = this.byRemote.get(key);
    if (id !== undefined) {
      const c = this.byId.get(id);
      if (c !== undefined && !c.socket.destroyed) return this.write(c, data);
    }
    const conn = this.open(transport, address, port, family, listener);
    if (conn === undefined) {
      this.unsentMessages++;
      this.onRefusedOutbound?.(transport, address, port);
      return false;
    }
    return this.write(conn, data);
  }

  private open(
    transport: TransportName,
    address: string,
    port: number,
    family: 4 | 6,
    listener: number,
  ): Connection | undefined {
    const kind: SlotKind = this.isUpstream?.(address, port) === true ? 'upstream' : 'outside';
    const slot = this.slots.take(kind, address);
    if (slot === undefined) {
      this.refusedOutbound++;
      return undefined;
    }
    const socket =
      transport === 'tls'
        ? tlsConnect({ rejectUnauthorized: false, ...this.tlsOptionsFor?.(address, port), host: address, port })
        : netConnect({ host: address, port });
    slot.socket = socket;
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
      this.options.maxPendingOutput,
    );
    conn.outbound = true;
    const timer = setTimeout(() => socket.destroy(), this.options.connectTimeoutMs);
    socket.once(transport === 'tls' ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      conn.markReady();
    });
    socket.once('close', () => {
      clearTimeout(timer);
      this.slots.release(slot);
      if (conn.ready) return;
      this.unsentMessages += conn.queuedMessages;
      // Closed for its own queue's size: the destination did nothing wrong.
      if (!conn.overflowed) this.onConnectFailed?.(transport, address, port);
    });
    this.register(conn);
    return conn;
  }

  private register(conn: Connection): void {
    const { socket, peer } = conn;
    this.byId.set(conn.id, conn);
    const key = remoteKey(peer.transport, peer.address, peer.port);
    this.byRemote.set(key, conn.id);
    socket.setNoDelay(true);
    socket.setTimeout(this.options.idleTimeoutMs, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => this.onData(conn, chunk));
    socket.on('error', () => {});
    socket.once('close', () => {
      if (conn.overflowed) this.outputOverflows++;
      this.byId.delete(conn.id);
      if (this.byRemote.get(key) === conn.id) this.byRemote.delete(key);
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
      // A ban or the output bound may close the connection halfway through a chunk.
      if (conn.socket.destroyed) return;
      if (f.kind === 'message') this.onMessage(f.data, conn.peer);
      else if (f.kind === 'ping') this.onPing(conn, f.count);
    }
  }

  /**
   * `count` CRLFCRLF pings read at once (RFC 5626 4.4.1). They pass the source guards like
   * messages (flood counts them; a blocked source gets no pong), and a run gets at most one
   * pong, within the connection's pong rate.
   */
  private onPing(conn: Connection, count: number): void {
    if (!this.onKeepAlive(conn.peer, count) || !conn.takePong(Date.now(), this.options.pongsPerSecond)) {
      this.pingsUnanswered += count;
      return;
    }
    this.pingsUnanswered += count - 1;
    conn.send(PONG);
  }

  /**
   * Closes the outside connections (TLS handshakes included) whose source a new ban of
   * `target` covers, as `refuseConnection` judges each address. Returns how many.
   */
  closeBanned(target: string): number {
    const refuse = this.refuseConnection;
    if (refuse === undefined) return 0;
    let n = 0;
    for (const slot of this.slots.candidates(target)) {
      const socket = slot.socket;
      if (socket === undefined || socket.destroyed || !refuse(slot.address)) continue;
      socket.destroy();
      n++;
    }
    this.closedByBan += n;
    return n;
  }

  /** Stops accepting, ends every connection gracefully (FIN), then destroys stragglers. */
  async close(): Promise<void> {
    // A server's close completes once its connections are gone: end them first.
    const closing = Promise.all(this.servers.map(({ server }) => new Promise<void>((r) => server.close(() => r()))));
    for (const c of this.byId.values()) c.socket.end();
    for (const socket of this.handshaking.values()) socket.destroy();
    const deadline = setTimeout(() => {
      for (const c of this.byId.values()) c.socket.destroy();
    }, 2000);
    deadline.unref();
    await closing;
  }

  /**
   * A TLS listener's new certificate and key, for connections accepted from now on; those
   * already open keep the certificate they were accepted with. Throws when they do not make
   * a TLS context (a key that does not match the certificate), leaving the old ones in use.
   */
  setTlsFiles(index: number, tls: TlsFiles): void {
    const server = this.servers.find((s) => s.info.index === index)?.server;
    if (!(server instanceof TlsServer)) return;
    server.setSecureContext({ cert: tls.cert, key: tls.key });
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
