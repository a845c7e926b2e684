export type TransportName = 'udp' | 'tcp' | 'tls';

/**
 * Where a message came from, or where one goes: the transport, the remote address and
 * port, the local listener it arrived on (index into the transport manager's list), and
 * for TCP/TLS the connection id (0 for UDP or "any connection").
 */
export interface Peer {
  transport: TransportName;
  address: string;
  port: number;
  family: 4 | 6;
  listener: number;
  connId: number;
}

/**
 * A destination for an outgoing message: a Peer, where `listener` -1 means "pick by
 * transport and family" and `connId` 0 means "any connection to the address, or a new one".
 */
export type Destination = Peer;

/** A local listening socket's identity, as written in Via, Record-Route and Path. */
export interface ListenerInfo {
  index: number;
  transport: TransportName;
  /** Bound address (no brackets) and port. */
  address: string;
  port: number;
  family: 4 | 6;
  /** host[:port] used in SIP headers: the configured advertise value or the bound address. */
  sipHost: string;
  sipPort: number;
}

/** Receives every complete message the transports read. */
export type MessageHandler = (data: Buffer, peer: Peer) => void;

/** Formats an address for a SIP header: IPv6 in brackets. */
export function sipHostOf(address: string, family: 4 | 6 | 0): string {
  return family === 6 ? `[${address}]` : address;
}

/** host:port of a listener as written in SIP headers. */
export function hostPort(l: ListenerInfo): string {
  return `${l.sipHost}:${l.sipPort}`;
}

/** The `;transport=` URI parameter a listener needs ('' for UDP). */
export function transportParam(l: ListenerInfo): string {
  return l.transport === 'udp' ? '' : `;transport=${l.transport}`;
}

/** A Route or Record-Route entry naming a listener (no user part: not a flow). */
export function listenerRoute(l: ListenerInfo): string {
  return `<sip:${hostPort(l)}${transportParam(l)};lr>`;
}
