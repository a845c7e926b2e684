import { createHmac, timingSafeEqual } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type { Peer, TransportName } from '../net/peer.js';

const TRANSPORTS: TransportName[] = ['udp', 'tcp', 'tls'];
const VERSION = 1;
const MAC_BYTES = 10;

/**
 * Flow tokens name the outside flow a dialog or registration belongs to (transport,
 * listener, connection, address, port), in the user part of sipwarden's Record-Route and
 * Path entries, so requests from the inside reach a phone behind NAT or over its own TCP/TLS
 * connection (the idea of RFC 5626 flow tokens). They are authenticated (HMAC-SHA256,
 * truncated to 80 bits): a forged Route from an attacker's dialog cannot make sipwarden send
 * to an address of the attacker's choosing. base64url, so valid in a SIP URI user part.
 */
export class FlowTokens {
  private readonly keys: Buffer[];
  /** Tokens already computed, by flow: one HMAC per flow rather than per dialog. */
  private readonly cache = new Map<string, string>();

  /** `keys[0]` signs; every key verifies (rotation). */
  constructor(keys: Buffer[]) {
    if (keys.length === 0) throw new Error('FlowTokens needs a key');
    this.keys = keys;
  }

  encode(flow: Peer): string {
    const cacheKey = `${flow.transport}|${flow.listener}|${flow.connId}|${flow.address}|${flow.port}`;
    const cached = this.cache.get(cacheKey);
    if (cached !== undefined) return cached;
    const token = this.compute(flow);
    // Bounded: a flood of distinct sources must not grow it without limit.
    if (this.cache.size >= 10_000) this.cache.clear();
    this.cache.set(cacheKey, token);
    return token;
  }

  private compute(flow: Peer): string {
    const ip = ipBytes(flow.address, flow.family);
    const body = Buffer.allocUnsafe(10 + ip.length);
    body[0] = VERSION;
    body[1] = TRANSPORTS.indexOf(flow.transport);
    body[2] = flow.listener & 0xff;
    body.writeUInt32BE(flow.connId >>> 0, 3);
    body.writeUInt16BE(flow.port, 7);
    body[9] = flow.family;
    ip.copy(body, 10);
    const mac = this.mac(this.keys[0]!, body);
    return Buffer.concat([body, mac]).toString('base64url');
  }

  /** Verified tokens (valid ones only), so an in-dialog request costs no HMAC. */
  private readonly verified = new Map<string, Peer>();

  /** The flow, or undefined if the token is malformed or its MAC does not verify. */
  decode(token: string): Peer | undefined {
    const known = this.verified.get(token);
    if (known !== undefined) return known;
    const flow = this.verify(token);
    if (flow !== undefined) {
      if (this.verified.size >= 10_000) this.verified.clear();
      this.verified.set(token, flow);
    }
    return flow;
  }

  private verify(token: string): Peer | undefined {
    if (token.length > 64) return undefined;
    const raw = Buffer.from(token, 'base64url');
    if (raw.length !== 10 + 4 + MAC_BYTES && raw.length !== 10 + 16 + MAC_BYTES) return undefined;
    const body = raw.subarray(0, raw.length - MAC_BYTES);
    const mac = raw.subarray(raw.length - MAC_BYTES);
    if (body[0] !== VERSION) return undefined;
    if (!this.keys.some((k) => timingSafeEqual(this.mac(k, body), mac))) return undefined;
    const transport = TRANSPORTS[body[1]!];
    const family = body[9];
    if (transport === undefined || (family !== 4 && family !== 6)) return undefined;
    const ipLen = family === 4 ? 4 : 16;
    if (body.length !== 10 + ipLen) return undefined;
    return {
      transport,
      listener: body[2]!,
      connId: body.readUInt32BE(3),
      port: body.readUInt16BE(7),
      family,
      address: ipText(body.subarray(10), family),
    };
  }

  private mac(key: Buffer, body: Buffer): Buffer {
    return createHmac('sha256', key).update(body).digest().subarray(0, MAC_BYTES);
  }
}

function ipBytes(address: string, family: 4 | 6): Buffer {
  if (family === 4 && isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  if (family === 6 && isIPv6(address)) {
    const words = ipv6Words(address);
    const out = Buffer.alloc(16);
    for (let i = 0; i < 8; i++) out.writeUInt16BE(words[i]!, i * 2);
    return out;
  }
  throw new Error(`not an IPv${family} address: ${address}`);
}

/** The eight 16-bit words of a valid IPv6 address (embedded IPv4 and `::` expanded). */
function ipv6Words(address: string): number[] {
  const parse = (s: string): number[] =>
    s === ''
      ? []
      : s.split(':').flatMap((p) => {
          if (!p.includes('.')) return [Number.parseInt(p, 16)];
          const b = p.split('.').map(Number);
          return [(b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!];
        });
  const gap = address.indexOf('::');
  if (gap === -1) return parse(address);
  const head = parse(address.slice(0, gap));
  const tail = parse(address.slice(gap + 2));
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

function ipText(b: Buffer, family: 4 | 6): string {
  if (family === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(b.readUInt16BE(i).toString(16));
  // Compress the longest run of zero words, as Node reports addresses.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best === -1) return words.join(':');
  return `${words.slice(0, best).join(':')}::${words.slice(best + bestLen).join(':')}`;
}
