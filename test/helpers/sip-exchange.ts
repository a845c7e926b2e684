/**
 * A one-shot SIP client process, for tests that send from addresses only a network namespace
 * has (several IPv6 addresses of one /64 on its loopback): run it with `ip netns exec NS node
 * dist/test/helpers/sip-exchange.js '<plan as JSON>'`. It binds `plan.bind`, sends each request
 * of the plan in turn to `plan.server`, and prints one JSON line: the status lines received
 * for each request. Every wait is bounded by `plan.waitMs`.
 *
 * Kinds of request:
 * - `options`: an OPTIONS to `user` (with `userAgent` when given);
 * - `register-guess`: a REGISTER of `user`, then, when challenged, the same REGISTER with
 *   digest credentials for a wrong `password` (what svcrack does).
 */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { digestResponse, h, parseResponse } from '../auth/client.js';

export interface ExchangeRequest {
  kind: 'options' | 'register-guess';
  user: string;
  userAgent?: string;
  password?: string;
}

export interface ExchangePlan {
  bind: string;
  server: string;
  port: number;
  requests: ExchangeRequest[];
  /** Longest wait for a final answer, per message sent (default 800 ms). */
  waitMs?: number;
}

/** Per request, the status lines received (`['401 Unauthorized', '403 Try later']`); [] when none. */
export type ExchangeResult = string[][];

const bracket = (a: string) => (a.includes(':') ? `[${a}]` : a);

async function run(plan: ExchangePlan): Promise<ExchangeResult> {
  const socket = createSocket(plan.bind.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, plan.bind, () => resolve());
  });
  const port = socket.address().port;
  const inbox: string[] = [];
  let wake: (() => void) | undefined;
  socket.on('message', (m) => {
    inbox.push(m.toString('latin1'));
    wake?.();
  });
  const waitMs = plan.waitMs ?? 800;
  /** The last final answer received (its challenge answers the next request). */
  let last = '';

  /** Sends `text` and returns the status lines of its Call-ID until a final one (or the wait ends). */
  const exchange = async (text: string, callId: string): Promise<string[]> => {
    inbox.length = 0;
    socket.send(Buffer.from(text, 'latin1'), plan.port, plan.server);
    const statuses: string[] = [];
    const deadline = Date.now() + waitMs;
    for (;;) {
      while (inbox.length > 0) {
        const msg = inbox.shift()!;
        if (!msg.includes(`Call-ID: ${callId}`)) continue;
        const line = /^SIP\/2\.0 (\d{3} [^\r\n]*)/.exec(msg)?.[1];
        if (line === undefined) continue;
        statuses.push(line);
        if (Number(line.slice(0, 3)) >= 200) {
          last = msg;
          return statuses;
        }
      }
      const left = deadline - Date.now();
      if (left <= 0) return statuses;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = undefined;
    }
  };

  const host = bracket(plan.bind);
  const server = bracket(plan.server);
  const out: ExchangeResult = [];
  for (const r of plan.requests) {
    const tag = randomBytes(4).toString('hex');
    const callId = `${randomBytes(6).toString('hex')}@test`;
    const request = (method: string, cseq: number, extra: string[]) =>
      [
        `${method} sip:${method === 'REGISTER' ? '' : `${r.user}@`}${server}:${plan.port} SIP/2.0`,
        `Via: SIP/2.0/UDP ${host}:${port};branch=z9hG4bK${randomBytes(6).toString('hex')};rport`,
        `From: <sip:${r.user}@${server}>;tag=${tag}`,
        `To: <sip:${r.user}@${server}>`,
        `Call-ID: ${callId}`,
        `CSeq: ${cseq} ${method}`,
        `Contact: <sip:${r.user}@${host}:${port}>`,
        'Max-Forwards: 70',
        ...(r.userAgent === undefined ? [] : [`User-Agent: ${r.userAgent}`]),
        ...extra,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
    if (r.kind === 'options') {
      out.push(await exchange(request('OPTIONS', 1, []), callId));
      continue;
    }
    const first = await exchange(request('REGISTER', 1, ['Expires: 60']), callId);
    const challenge = first.at(-1)?.startsWith('401') ? parseResponse(last).challenges[0] : undefined;
    if (challenge === undefined) {
      out.push(first);
      continue;
    }
    const uri = `sip:${server}:${plan.port}`;
    const password = r.password ?? 'wrong-guess';
    const qop = challenge.qop.split(',').some((q) => q.trim() === 'auth');
    const cnonce = randomBytes(4).toString('hex');
    // RFC 2617 3.2.2: with qop=auth, or the RFC 2069 form when the challenge offers none.
    const response = qop
      ? digestResponse({
          algorithm: 'MD5',
          username: r.user,
          realm: challenge.realm,
          password,
          nonce: challenge.nonce,
          nc: '00000001',
          cnonce,
          method: 'REGISTER',
          uri,
        })
      : h(
          'md5',
          `${h('md5', `${r.user}:${challenge.realm}:${password}`)}:${challenge.nonce}:${h('md5', `REGISTER:${uri}`)}`,
        );
    const auth =
      `Authorization: Digest username="${r.user}", realm="${challenge.realm}", nonce="${challenge.nonce}", ` +
      `uri="${uri}", response="${response}", algorithm=MD5` +
      (qop ? `, qop=auth, nc=00000001, cnonce="${cnonce}"` : '');
    out.push([...first, ...(await exchange(request('REGISTER', 2, ['Expires: 60', auth]), callId))]);
  }
  socket.close();
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  run(JSON.parse(process.argv[2] ?? '{}') as ExchangePlan).then(
    (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
    (err: unknown) => {
      process.stderr.write(`${String(err)}\n`);
      process.exit(1);
    },
  );
}
