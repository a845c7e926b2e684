/**
 * Topology token micro benchmark: nanoseconds per `encode` and `decode`, against baselines in
 * the same run on the same input:
 *
 *   HMAC-SHA256       one HMAC of the value with a prepared key: what keyed masking plus an
 *                     integrity check (Kamailio topoh style masking with a MAC added) costs at
 *                     the least, before any encoding of the result.
 *   GCM alone         one AES-256-GCM encryption with a fixed nonce and prepared key, no HMAC
 *                     and no base32: the floor for any node:crypto AEAD per call.
 *
 *   npx tsc -p . && node dist/bench/topology/token.js [--rounds N] [--calls N]
 *
 * sipwarden's encode and decode are measured with the memo off (every call seals or opens);
 * the memo columns are repeated calls on the same value with the default memo, as for the
 * upstream Contact or a Call-ID sealed on every message of a dialog.
 *
 * Inputs: an IPv4 Via, an IPv6 Via, and a 200-character WebSocket Contact. Each case runs
 * `rounds` rounds of `calls` calls after a warm-up; the median round is reported.
 */
import { createCipheriv, createHmac, createSecretKey, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { TopologyTokens } from '../../src/topology/token.js';
import { table } from '../common/table.js';

const INPUTS: [string, string][] = [
  ['Via IPv4', 'SIP/2.0/UDP 10.0.0.10:5060;branch=z9hG4bK776asdhds;rport'],
  ['Via IPv6', 'SIP/2.0/TCP [2001:db8:85a3:8d3:1319:8a2e:370:7348]:5060;branch=z9hG4bKnashds8;rport'],
  [
    'Contact WS 200',
    `<sip:${'k'.repeat(8)}@${'r'.repeat(12)}.invalid;transport=ws>;+sip.ice;reg-id=1;+sip.instance="<urn:uuid:${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}>";expires=600;x=${'y'.repeat(55)}`,
  ],
];

let sink = 0;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

/** Median ns per call of `step` over `rounds` rounds of `calls` calls, after a warm-up round. */
function measure(step: () => void, rounds: number, calls: number): number {
  for (let i = 0; i < calls; i++) step();
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) step();
    times.push(((performance.now() - t0) * 1e6) / calls);
  }
  return median(times);
}

function main(): void {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '7' },
      calls: { type: 'string', default: '50000' },
    },
  });
  const rounds = Number(values.rounds);
  const calls = Number(values.calls);
  const secret = randomBytes(32);
  // Crypto cost: memo off, so every call seals or opens. Memo hits measured separately.
  const tokens = new TopologyTokens({ current: secret }, { memo: 0 });
  const memoed = new TopologyTokens({ current: secret });
  const macKey = createSecretKey(randomBytes(32));
  const gcmKey = createSecretKey(randomBytes(32));
  const nonce = randomBytes(12);

  const rows: string[][] = [];
  for (const [name, value] of INPUTS) {
    const bytes = Buffer.from(value, 'utf8');
    const token = tokens.encode(value);
    if (tokens.decode(token) !== value) throw new Error(`round trip failed for ${name}`);
    const hmac = measure(
      () => {
        sink += createHmac('sha256', macKey).update(value).digest()[0]!;
      },
      rounds,
      calls,
    );
    const gcm = measure(
      () => {
        const cipher = createCipheriv('aes-256-gcm', gcmKey, nonce, { authTagLength: 16 });
        sink += cipher.update(bytes).length + cipher.final().length + cipher.getAuthTag()[0]!;
      },
      rounds,
      calls,
    );
    const encode = measure(
      () => {
        sink += tokens.encode(value).length;
      },
      rounds,
      calls,
    );
    const decode = measure(
      () => {
        sink += tokens.decode(token)!.length;
      },
      rounds,
      calls,
    );
    const forged = `${token.slice(0, 20)}${token[20] === 'a' ? 'b' : 'a'}${token.slice(21)}`;
    const reject = measure(
      () => {
        sink += tokens.decode(forged) === undefined ? 1 : 0;
      },
      rounds,
      calls,
    );
    memoed.decode(memoed.encode(value));
    const encodeHit = measure(
      () => {
        sink += memoed.encode(value).length;
      },
      rounds,
      calls,
    );
    const decodeHit = measure(
      () => {
        sink += memoed.decode(token)!.length;
      },
      rounds,
      calls,
    );
    rows.push([
      name,
      String(bytes.length),
      String(token.length),
      hmac.toFixed(0),
      gcm.toFixed(0),
      encode.toFixed(0),
      decode.toFixed(0),
      reject.toFixed(0),
      encodeHit.toFixed(0),
      decodeHit.toFixed(0),
      `x${(encode / hmac).toFixed(2)}`,
      `x${(decode / hmac).toFixed(2)}`,
    ]);
  }
  console.log(`topology tokens, ns per call (median of ${rounds} rounds of ${calls} calls), node ${process.version}`);
  console.log(
    table(
      [
        'input',
        'bytes',
        'token chars',
        'HMAC ns',
        'GCM alone ns',
        'encode ns',
        'decode ns',
        'forged decode ns',
        'encode memo hit ns',
        'decode memo hit ns',
        'encode/HMAC',
        'decode/HMAC',
      ],
      rows,
      new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
    ),
  );
  if (sink === 0.5) console.log(sink);
}

main();
