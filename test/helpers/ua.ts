import { execFileSync } from 'node:child_process';
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { StreamFramer } from '../../src/sip/framer.js';
import type { SipMessage } from '../../src/sip/message.js';
import { parseMessage } from '../../src/sip/parser.js';

/**
 * A minimal SIP user agent over one TCP or TLS connection, for tests where sipp cannot
 * play a part (Debian's sipp is built without TLS). Messages are written by the test;
 * incoming ones are framed and parsed by sipwarden's own message layer.
 */
export class StreamUa {
  private readonly framer = new StreamFramer();
  private readonly inbox: SipMessage[] = [];
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const f of this.framer.push(chunk))
        if (f.kind === 'message') this.inbox.push(parseMessage(Buffer.from(f.data)));
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async connect(o: { tls: boolean; host: string; port: number; localAddress: string }): Promise<StreamUa> {
    const tcp = netConnect({ host: o.host, port: o.port, localAddress: o.localAddress });
    const socket = o.tls ? tlsConnect({ socket: tcp, rejectUnauthorized: false }) : tcp;
    await new Promise<void>((resolve, reject) => {
      socket.once(o.tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    return new StreamUa(socket);
  }

  get localPort(): number {
    return this.socket.localPort ?? 0;
  }

  send(text: string): void {
    this.socket.write(text.replace(/\r?\n/g, '\r\n'));
  }

  /** The next received message matching `pred` (earlier non-matching ones are skipped). */
  async next(pred: (m: SipMessage) => boolean, ms = 5000): Promise<SipMessage> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.inbox.findIndex(pred);
      if (i !== -1) return this.inbox.splice(i, 1)[0]!;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a SIP message');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Creates a self-signed certificate and key for 127.0.0.1 (CN and IP SAN) in `dir` with openssl. */
export function makeCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

/** Writes a request with a correct Content-Length; `lines` are the start line and headers. */
export function request(lines: string[], body = ''): string {
  return `${lines.join('\r\n')}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}
