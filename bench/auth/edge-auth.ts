/**
 * Micro benchmark of edge authentication: what the auth guard costs per request, next to what
 * parsing the same request costs, in the same run.
 *
 *   npx tsc -p . && node dist/bench/auth/edge-auth.js [--batch N] [--rounds N]
 *
 * - `MD5`, `SHA-256`: an authenticated REGISTER (nonce MAC check, user lookup, response
 *   computed and compared, nonce-count recorded). Each round asks the guard for a fresh nonce
 *   and sends the batch with nc 1..N, as one phone re-registering would.
 * - `challenge`: a REGISTER without credentials (a fresh nonce and the 401's headers).
 *
 * Parsing (timed separately, the baseline) and the client's own digest arithmetic are outside
 * the guard's timing. The median of the rounds is printed, in ns per request, and guard/parse.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthGuard, standaloneAuthDeps } from '../../src/auth/guard.js';
import { loadConfigFromString } from '../../src/config/index.js';
import type { Source, Verdict } from '../../src/core/verdict.js';
import type { SipMessage } from '../../src/sip/message.js';
import { parseMessage } from '../../src/sip/parser.js';
import { batchAndRounds } from '../common/args.js';
import { table } from '../common/table.js';

const USAGE = `usage: node dist/bench/auth/edge-auth.js [options]
  --batch N    requests per round (default 500)
  --rounds N   timed rounds per case; the median is reported (default 60)
  --help`;

const { batch: BATCH, rounds: ROUNDS } = batchAndRounds(USAGE, { batch: 500, rounds: 60 });

const dir = mkdtempSync(join(tmpdir(), 'sipwarden-bench-auth-'));
const REALM = 'sipwarden';
const PASSWORD = 'correct horse battery staple';
const h = (alg: 'md5' | 'sha256', s: string) => createHash(alg).update(s).digest('hex');
writeFileSync(
  join(dir, 'users.txt'),
  `alice:${REALM}:${h('md5', `alice:${REALM}:${PASSWORD}`)}\nalice:${REALM}:${h('sha256', `alice:${REALM}:${PASSWORD}`)}\n`,
);
const config = loadConfigFromString(
  'listen: [udp://192.0.2.1:5060]\nupstreams:\n  - name: pbx\n    targets: [udp://10.0.0.2:5060]\n' +
    'guards:\n  chain: [auth]\n  auth:\n    users_file: users.txt\n    max_nonces: 100000\n',
  'bench.yaml',
  {},
  { cwd: dir, baseDir: dir, env: {} },
);
const SILENT = { info: () => {}, warn: () => {} };
const guard = new AuthGuard(config.guards.auth, standaloneAuthDeps(SILENT));
const SOURCE: Source = { transport: 'udp', address: '198.51.100.23', port: 41874, family: 4 };
const URI = 'sip:192.0.2.1:5060';

function register(cseq: number, auth: string | undefined): Buffer {
  return Buffer.from(
    [
      `REGISTER ${URI} SIP/2.0`,
      `Via: SIP/2.0/UDP 198.51.100.23:41874;branch=z9hG4bK-bench-${cseq};rport`,
      'From: <sip:alice@192.0.2.1>;tag=a73kszlfl',
      'To: <sip:alice@192.0.2.1>',
      'Call-ID: 1j9FpLxk3uxtm8tn@198.51.100.23',
      `CSeq: ${cseq} REGISTER`,
      'Contact: <sip:alice@198.51.100.23:41874;transport=udp>;expires=3600',
      'Max-Forwards: 70',
      'User-Agent: Bench Phone 1.0',
      'Expires: 3600',
      ...(auth === undefined ? [] : [auth]),
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
    'latin1',
  );
}

let sink = 0;
let cseq = 1;

/** A fresh nonce from the guard (a challenge to a request without credentials). */
function freshNonce(): string {
  const v = guard.checkMessage(parseMessage(register(cseq++, undefined)), SOURCE, Date.now());
  if (v.action !== 'reply') throw new Error('expected a challenge');
  return /nonce="([^"]+)"/.exec(v.reply.headers![0]!)![1]!;
}

function authorizedBatch(algorithm: 'MD5' | 'SHA-256'): Buffer[] {
  const nonce = freshNonce();
  const alg = algorithm === 'MD5' ? 'md5' : 'sha256';
  const ha1 = h(alg, `alice:${REALM}:${PASSWORD}`);
  const ha2 = h(alg, `REGISTER:${URI}`);
  const out: Buffer[] = [];
  for (let i = 1; i <= BATCH; i++) {
    const nc = i.toString(16).padStart(8, '0');
    const cnonce = `c${i}`;
    const response = h(alg, `${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`);
    out.push(
      register(
        cseq++,
        `Authorization: Digest username="alice", realm="${REALM}", nonce="${nonce}", uri="${URI}", ` +
          `response="${response}", algorithm=${algorithm}, qop=auth, nc=${nc}, cnonce="${cnonce}"`,
      ),
    );
  }
  return out;
}

function parseAll(raws: readonly Buffer[], out: SipMessage[]): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < raws.length; i++) out[i] = parseMessage(raws[i]!);
  return Number(process.hrtime.bigint() - t0);
}

function guardAll(messages: readonly SipMessage[], want: Verdict['action']): number {
  const now = Date.now();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < messages.length; i++) {
    const v = guard.checkMessage(messages[i]!, SOURCE, now);
    sink += v.action.length;
    if (v.action !== want) throw new Error(`expected ${want}, got ${JSON.stringify(v)}`);
  }
  return Number(process.hrtime.bigint() - t0);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

type Case = 'MD5' | 'SHA-256' | 'challenge';

function measure(c: Case): { name: Case; parse: number; guard: number } {
  const parse: number[] = [];
  const check: number[] = [];
  const messages: SipMessage[] = new Array(BATCH);
  for (let round = -5; round < ROUNDS; round++) {
    const raws =
      c === 'challenge' ? Array.from({ length: BATCH }, () => register(cseq++, undefined)) : authorizedBatch(c);
    const p = parseAll(raws, messages);
    const g = guardAll(messages, c === 'challenge' ? 'reply' : 'pass');
    if (round < 0) continue;
    parse.push(p / BATCH);
    check.push(g / BATCH);
  }
  return { name: c, parse: median(parse), guard: median(check) };
}

const rows = (['MD5', 'SHA-256', 'challenge'] as const).map(measure);
guard.close();
console.log(`edge auth: ns per REGISTER, median of ${ROUNDS} rounds of ${BATCH} (node ${process.version})\n`);
console.log(
  table(
    ['case', 'parse', 'auth guard', 'guard/parse'],
    rows.map((r) => [r.name, r.parse.toFixed(0), r.guard.toFixed(0), `${(r.guard / r.parse).toFixed(2)}x`]),
    new Set([1, 2, 3]),
  ),
);
console.log(`\nnonces tracked at the end: ${guard.trackedNonces}`);
if (sink === 0) console.log('');
