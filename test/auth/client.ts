/**
 * A small SIP client for the edge-auth tests: builds requests, answers challenges with its
 * own digest arithmetic (node:crypto only, independent of src/auth) and waits for answers.
 */
import { createHash, randomBytes } from 'node:crypto';
import { UdpPeer } from '../helpers/udp.js';

export interface Challenge {
  header: string;
  realm: string;
  nonce: string;
  algorithm: string;
  qop: string;
  stale: boolean;
}

export interface Response {
  status: number;
  text: string;
  challenges: Challenge[];
}

export function h(alg: 'md5' | 'sha256', s: string): string {
  return createHash(alg).update(s).digest('hex');
}

/** RFC 7616 3.4.1: response for qop=auth (and the -sess HA1 when asked). */
export function digestResponse(o: {
  algorithm: string;
  username: string;
  realm: string;
  password: string;
  nonce: string;
  nc: string;
  cnonce: string;
  method: string;
  uri: string;
}): string {
  const alg = o.algorithm.toUpperCase().startsWith('SHA-256') ? 'sha256' : 'md5';
  let ha1 = h(alg, `${o.username}:${o.realm}:${o.password}`);
  if (o.algorithm.toUpperCase().endsWith('-SESS')) ha1 = h(alg, `${ha1}:${o.nonce}:${o.cnonce}`);
  const ha2 = h(alg, `${o.method}:${o.uri}`);
  return h(alg, `${ha1}:${o.nonce}:${o.nc}:${o.cnonce}:auth:${ha2}`);
}

function param(value: string, name: string): string | undefined {
  const m = new RegExp(`(?:^|[\\s,])${name}=(?:"([^"]*)"|([^,\\s]+))`, 'i').exec(value);
  return m === null ? undefined : (m[1] ?? m[2]);
}

export function parseResponse(text: string): Response {
  const status = Number(/^SIP\/2\.0 (\d{3})/.exec(text)?.[1] ?? 0);
  const challenges: Challenge[] = [];
  for (const m of text.matchAll(/^(WWW-Authenticate|Proxy-Authenticate):\s*Digest\s+(.*)$/gim)) {
    const v = m[2]!.trim();
    challenges.push({
      header: m[1]!,
      realm: param(v, 'realm') ?? '',
      nonce: param(v, 'nonce') ?? '',
      algorithm: param(v, 'algorithm') ?? 'MD5',
      qop: param(v, 'qop') ?? '',
      stale: param(v, 'stale')?.toLowerCase() === 'true',
    });
  }
  return { status, text, challenges };
}

export interface RequestSpec {
  method: string;
  user: string;
  callId: string;
  cseq: number;
  branch: string;
  /** Credentials header line (`Authorization: ...`), if any. */
  auth?: string;
  toTag?: string;
}

export class SipClient {
  private constructor(
    readonly peer: UdpPeer,
    readonly address: string,
    private readonly server: { address: string; port: number },
  ) {}

  static async open(address: string, port: number, server: { address: string; port: number }): Promise<SipClient> {
    return new SipClient(await UdpPeer.bind(address, port), address, server);
  }

  get port(): number {
    return this.peer.port;
  }

  uri(): string {
    return `sip:${this.server.address}:${this.server.port}`;
  }

  request(r: RequestSpec): string {
    const uri = this.uri();
    return [
      `${r.method} ${uri} SIP/2.0`,
      `Via: SIP/2.0/UDP ${this.address}:${this.port};branch=z9hG4bK${r.branch};rport`,
      `From: <sip:${r.user}@${this.server.address}>;tag=f${r.callId}`,
      `To: <sip:${r.user}@${this.server.address}>${r.toTag ? `;tag=${r.toTag}` : ''}`,
      `Call-ID: ${r.callId}`,
      `CSeq: ${r.cseq} ${r.method}`,
      `Contact: <sip:${r.user}@${this.address}:${this.port}>`,
      'Max-Forwards: 70',
      ...(r.auth ? [r.auth] : []),
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
  }

  /** Credentials answering `c` for this request. */
  credentials(
    c: Challenge,
    o: { username: string; password: string; method: string; nc: number; cnonce?: string },
  ): string {
    const nc = o.nc.toString(16).padStart(8, '0');
    const cnonce = o.cnonce ?? randomBytes(8).toString('hex');
    const uri = this.uri();
    const response = digestResponse({ ...o, algorithm: c.algorithm, realm: c.realm, nonce: c.nonce, nc, cnonce, uri });
    const name = c.header.toLowerCase() === 'www-authenticate' ? 'Authorization' : 'Proxy-Authorization';
    return (
      `${name}: Digest username="${o.username}", realm="${c.realm}", nonce="${c.nonce}", uri="${uri}", ` +
      `response="${response}", algorithm=${c.algorithm}, qop=auth, nc=${nc}, cnonce="${cnonce}"`
    );
  }

  /** Sends `text` and waits for the final response to its Call-ID and CSeq (or a timeout). */
  async send(text: string, timeoutMs = 2000): Promise<Response | undefined> {
    const callId = /^Call-ID: (.*)$/m.exec(text)![1]!.trim();
    const cseq = /^CSeq: (.*)$/m.exec(text)![1]!.trim();
    const seen = this.peer.received.length;
    await this.peer.send(text, this.server.port, this.server.address);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      for (const r of this.peer.received.slice(seen)) {
        if (
          r.data.includes(`Call-ID: ${callId}\r\n`) &&
          r.data.includes(`CSeq: ${cseq}\r\n`) &&
          !/^SIP\/2\.0 1\d\d/.test(r.data)
        ) {
          return parseResponse(r.data);
        }
      }
      await new Promise((res) => setTimeout(res, 10));
    }
    return undefined;
  }

  close(): void {
    this.peer.close();
  }
}

/**
 * A stand-in upstream: records every request and answers 200 (copying Via, From, To, Call-ID,
 * CSeq), so a request that got through shows in `requests` and its 200 reaches the client.
 */
export class Upstream {
  private constructor(readonly peer: UdpPeer) {
    peer.socket.on('message', (m, r) => {
      const text = m.toString('latin1');
      if (!/^[A-Z]+ /.test(text) || text.startsWith('ACK ')) return;
      const keep = text.split('\r\n').filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l));
      const reply = [
        'SIP/2.0 200 OK',
        ...keep.map((l) => (/^To:/i.test(l) && !/tag=/.test(l) ? `${l};tag=up` : l)),
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      peer.socket.send(reply, r.port, r.address);
    });
  }

  static async open(address: string, port: number): Promise<Upstream> {
    return new Upstream(await UdpPeer.bind(address, port));
  }

  /** Requests received (not pings), in order. */
  get requests(): string[] {
    return this.peer.received.map((r) => r.data).filter((d) => /^[A-Z]+ /.test(d) && !d.startsWith('OPTIONS '));
  }

  close(): void {
    this.peer.close();
  }
}
