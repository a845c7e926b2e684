/**
 * A stand-in PBX and a phone over real UDP sockets, for the fraud tests that sipp cannot play:
 * sipp tells calls apart by Call-ID alone, so it cannot answer several calls on one Call-ID.
 *
 * The PBX answers every INVITE outside a dialog `200 OK` with a new To tag (one dialog per
 * INVITE, as RFC 3261 12.1.1 has it), REFER `202 Accepted`, a BYE `200 OK` for a dialog it
 * knows and `481` otherwise, anything else `200 OK`. It copies every Via and Record-Route.
 */
import { createSocket, type Socket } from 'node:dgram';
import { SipParseError } from '../../src/sip/errors.js';
import type { SipMessage } from '../../src/sip/message.js';
import { parseMessage } from '../../src/sip/parser.js';

function bind(ip: string, port: number): Promise<Socket> {
  const s = createSocket('udp4');
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.bind(port, ip, () => resolve(s));
  });
}

export class TinyPbx {
  /** Every request received, in order. */
  readonly requests: SipMessage[] = [];
  private readonly dialogs = new Set<string>();
  private tags = 0;

  private constructor(
    private readonly socket: Socket,
    readonly ip: string,
    readonly port: number,
  ) {
    socket.on('message', (data, from) => {
      let msg: SipMessage;
      try {
        msg = parseMessage(data);
      } catch (err) {
        if (err instanceof SipParseError) return;
        throw err;
      }
      if (!msg.isRequest) return;
      this.requests.push(msg);
      const answer = this.answer(msg);
      if (answer !== undefined) socket.send(answer, from.port, from.address);
    });
  }

  static async start(ip: string, port: number): Promise<TinyPbx> {
    return new TinyPbx(await bind(ip, port), ip, port);
  }

  /** Requests of `method` received. */
  received(method: string): SipMessage[] {
    return this.requests.filter((m) => m.method === method);
  }

  private answer(msg: SipMessage): string | undefined {
    const method = msg.method;
    if (method === 'ACK') return undefined;
    let toTag = msg.to.tag;
    let status = '200 OK';
    if (method === 'INVITE' && toTag === undefined) {
      toTag = `pbx${++this.tags}`;
      this.dialogs.add(`${msg.callId} ${msg.from.tag} ${toTag}`);
    } else if (method === 'BYE') {
      const key = `${msg.callId} ${msg.from.tag} ${toTag}`;
      if (this.dialogs.delete(key)) status = '200 OK';
      else status = '481 Call/Transaction Does Not Exist';
    } else if (method === 'REFER') {
      status = '202 Accepted';
    }
    const lines = [`SIP/2.0 ${status}`];
    for (const [name, value] of msg.headers()) {
      const n = name.toLowerCase();
      if (n === 'via' || n === 'v' || n === 'record-route' || n === 'from' || n === 'f')
        lines.push(`${name}: ${value}`);
      else if (n === 'call-id' || n === 'i' || n === 'cseq') lines.push(`${name}: ${value}`);
      else if (n === 'to' || n === 't') {
        lines.push(`${name}: ${value}${msg.to.tag === undefined && toTag !== undefined ? `;tag=${toTag}` : ''}`);
      }
    }
    lines.push(`Contact: <sip:pbx@${this.ip}:${this.port}>`, 'Content-Length: 0', '', '');
    return lines.join('\r\n');
  }

  close(): void {
    this.socket.close();
  }
}

/** A call as the phone knows it after the 2xx: enough to send in-dialog requests. */
export interface Dialog {
  callId: string;
  fromTag: string;
  toTag: string;
  remoteTarget: string;
  routes: string[];
  cseq: number;
}

/**
 * A phone on one UDP socket that sends requests to sipwarden and waits for each final answer
 * (at most `ms`, 3 s by default). Credentials are a well-formed Digest header for `user`: the
 * stand-in PBX never checks them, and sipwarden counts calls by them.
 */
export class Phone {
  private readonly inbox: SipMessage[] = [];
  private branch = 0;

  private constructor(
    private readonly socket: Socket,
    readonly ip: string,
    readonly port: number,
    private readonly proxy: { ip: string; port: number },
  ) {
    socket.on('message', (data) => {
      try {
        this.inbox.push(parseMessage(data));
      } catch (err) {
        if (!(err instanceof SipParseError)) throw err;
      }
    });
  }

  static async start(ip: string, port: number, proxy: { ip: string; port: number }): Promise<Phone> {
    return new Phone(await bind(ip, port), ip, port, proxy);
  }

  /** Sends a request and resolves with its final answer, or undefined when none came. */
  async request(o: {
    method: string;
    uri: string;
    callId: string;
    fromTag: string;
    toTag?: string;
    cseq: number;
    user?: string;
    routes?: string[];
    extra?: string[];
    ms?: number;
  }): Promise<SipMessage | undefined> {
    const branch = `z9hG4bK${this.port}x${++this.branch}`;
    const lines = [
      `${o.method} ${o.uri} SIP/2.0`,
      `Via: SIP/2.0/UDP ${this.ip}:${this.port};branch=${branch};rport`,
      ...(o.routes ?? []).map((r) => `Route: ${r}`),
      `From: <sip:${o.user ?? 'caller'}@sipwarden.test>;tag=${o.fromTag}`,
      `To: <${o.uri}>${o.toTag === undefined ? '' : `;tag=${o.toTag}`}`,
      `Call-ID: ${o.callId}`,
      `CSeq: ${o.cseq} ${o.method}`,
      'Max-Forwards: 70',
      `Contact: <sip:${o.user ?? 'caller'}@${this.ip}:${this.port}>`,
      ...(o.user === undefined
        ? []
        : [
            `Proxy-Authorization: Digest username="${o.user}", realm="sipwarden.test", nonce="n${branch}", ` +
              `uri="${o.uri}", response="0123456789abcdef0123456789abcdef", algorithm=MD5`,
          ]),
      ...(o.extra ?? []),
      'Content-Length: 0',
      '',
      '',
    ];
    this.socket.send(lines.join('\r\n'), this.proxy.port, this.proxy.ip);
    const deadline = Date.now() + (o.ms ?? 3000);
    while (Date.now() < deadline) {
      const i = this.inbox.findIndex((m) => !m.isRequest && m.status >= 200 && m.topVia.branch === branch);
      if (i !== -1) return this.inbox.splice(i, 1)[0];
      await new Promise((r) => setTimeout(r, 10));
    }
    return undefined;
  }

  /** Places a call (INVITE with credentials); resolves with its answer and, for a 2xx, the dialog. */
  async call(o: {
    uri: string;
    callId: string;
    fromTag: string;
    cseq?: number;
    user?: string;
  }): Promise<{ answer: SipMessage | undefined; dialog: Dialog | undefined }> {
    const cseq = o.cseq ?? 1;
    const answer = await this.request({ method: 'INVITE', ...o, cseq });
    if (answer === undefined || answer.status >= 300) return { answer, dialog: undefined };
    const contact = answer.contact;
    const remoteTarget = contact !== undefined && !contact.star ? (contact.addresses[0]?.uriText ?? o.uri) : o.uri;
    // RFC 3261 12.1.2: the caller's route set is the Record-Route in reverse order.
    const routes = answer.headerValues('Record-Route').reverse();
    const dialog: Dialog = {
      callId: o.callId,
      fromTag: o.fromTag,
      toTag: answer.to.tag ?? '',
      remoteTarget,
      routes,
      cseq,
    };
    // The ACK goes to the remote target through the route set (RFC 3261 13.2.2.4).
    this.send('ACK', dialog, dialog.cseq);
    return { answer, dialog };
  }

  /** Sends an in-dialog request and waits for its final answer (none for ACK). */
  inDialog(method: string, d: Dialog, extra: string[] = [], user?: string): Promise<SipMessage | undefined> {
    d.cseq++;
    return this.request({
      method,
      uri: d.remoteTarget,
      callId: d.callId,
      fromTag: d.fromTag,
      toTag: d.toTag,
      cseq: d.cseq,
      routes: d.routes,
      extra,
      user,
    });
  }

  private send(method: 'ACK', d: Dialog, cseq: number): void {
    const lines = [
      `${method} ${d.remoteTarget} SIP/2.0`,
      `Via: SIP/2.0/UDP ${this.ip}:${this.port};branch=z9hG4bK${this.port}a${++this.branch};rport`,
      ...d.routes.map((r) => `Route: ${r}`),
      `From: <sip:caller@sipwarden.test>;tag=${d.fromTag}`,
      `To: <sip:callee@sipwarden.test>;tag=${d.toTag}`,
      `Call-ID: ${d.callId}`,
      `CSeq: ${cseq} ${method}`,
      'Max-Forwards: 70',
      'Content-Length: 0',
      '',
      '',
    ];
    this.socket.send(lines.join('\r\n'), this.proxy.port, this.proxy.ip);
  }

  close(): void {
    this.socket.close();
  }
}
