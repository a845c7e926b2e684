import { createSocket, type Socket } from 'node:dgram';
import type { ListenerInfo, MessageHandler, Peer } from '../net/peer.js';

/** One bound UDP socket. Every datagram is one message (or a keep-alive). */
export class UdpListener {
  private readonly socket: Socket;
  sendErrors = 0;

  constructor(
    readonly info: ListenerInfo,
    private readonly onMessage: MessageHandler,
    /** Every CRLF keep-alive datagram, one at a time (they pass the source guards: flood counts them). */
    private readonly onKeepAlive: (peer: Peer, count: number) => boolean,
  ) {
    this.socket = createSocket({
      type: info.family === 6 ? 'udp6' : 'udp4',
      ipv6Only: info.family === 6,
      recvBufferSize: 4 * 1024 * 1024,
      sendBufferSize: 4 * 1024 * 1024,
      // Destinations are always IP literals here: skip dns.lookup and its extra tick per send.
      lookup: literalLookup,
    });
    this.socket.on('message', (data, rinfo) => {
      // CRLF keep-alives (RFC 5626 4.4.1 over UDP uses STUN; many phones send bare CRLF).
      if (data.length <= 4 && isCrlfOnly(data)) {
        this.onKeepAlive(this.peerOf(rinfo.address, rinfo.port), 1);
        return;
      }
      this.onMessage(data, this.peerOf(rinfo.address, rinfo.port));
    });
    // ICMP errors and send failures surface here on Linux; they must never stop the socket.
    this.socket.on('error', () => {
      this.sendErrors++;
    });
  }

  private peerOf(address: string, port: number): Peer {
    return { transport: 'udp', address, port, family: this.info.family, listener: this.info.index, connId: 0 };
  }

  bind(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.socket.once('error', onError);
      this.socket.bind({ address: this.info.address, port: this.info.port, exclusive: true }, () => {
        this.socket.off('error', onError);
        if (this.info.port === 0) {
          this.info.port = this.socket.address().port;
          if (this.info.sipPort === 0) this.info.sipPort = this.info.port;
        }
        try {
          this.socket.setRecvBufferSize(4 * 1024 * 1024);
          this.socket.setSendBufferSize(4 * 1024 * 1024);
        } catch {
          // The kernel may cap buffer sizes (net.core.rmem_max); the defaults still work.
        }
        resolve();
      });
    });
  }

  send(data: Buffer, port: number, address: string): void {
    // No callback: send errors arrive as 'error' events, counted above.
    this.socket.send(data, port, address);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

function literalLookup(
  address: string,
  _options: unknown,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  callback(null, address, address.includes(':') ? 6 : 4);
}

function isCrlfOnly(data: Buffer): boolean {
  for (let i = 0; i < data.length; i++) if (data[i] !== 0x0d && data[i] !== 0x0a) return false;
  return true;
}
