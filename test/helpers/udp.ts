import { createSocket, type Socket } from 'node:dgram';

/** A UDP endpoint on loopback that records every datagram it receives. */
export class UdpPeer {
  readonly received: Array<{ data: string; address: string; port: number }> = [];
  private constructor(readonly socket: Socket) {
    socket.on('message', (m, r) =>
      this.received.push({ data: m.toString('latin1'), address: r.address, port: r.port }),
    );
  }

  static async bind(address: string, port = 0): Promise<UdpPeer> {
    const s = createSocket(address.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(port, address, () => resolve());
    });
    return new UdpPeer(s);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(data: Buffer | string, port: number, address = '127.0.0.1'): Promise<void> {
    return new Promise((resolve, reject) =>
      this.socket.send(data, port, address, (err) => (err ? reject(err) : resolve())),
    );
  }

  /** Datagrams whose text contains `needle`. */
  matching(needle: string): string[] {
    return this.received.filter((r) => r.data.includes(needle)).map((r) => r.data);
  }

  close(): void {
    this.socket.close();
  }
}

/** An OPTIONS request as a phone would send it from `from:port`. */
export function options(from: string, port: number, tag: string, extra: string[] = []): string {
  const host = from.includes(':') ? `[${from}]` : from;
  return [
    'OPTIONS sip:100@example.com SIP/2.0',
    `Via: SIP/2.0/UDP ${host}:${port};branch=z9hG4bK${tag};rport`,
    `From: <sip:200@example.com>;tag=${tag}`,
    'To: <sip:100@example.com>',
    `Call-ID: ${tag}@test`,
    'CSeq: 1 OPTIONS',
    'Max-Forwards: 70',
    ...extra,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
