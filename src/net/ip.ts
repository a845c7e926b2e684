/**
 * IP address parsing and formatting without regular expressions or allocation on the hot path.
 *
 * IPv4 addresses are held as unsigned 32-bit numbers, IPv6 addresses as eight 16-bit words.
 * IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, what a dual-stack socket reports for an IPv4
 * peer) are treated as the IPv4 address they carry wherever an address is *matched* or *keyed*.
 */

/** Scratch buffer for IPv6 parsing; JavaScript is single-threaded and no parse re-enters. */
const scratch = new Uint16Array(8);

const CH_0 = 48;
const CH_9 = 57;
const CH_A = 65;
const CH_F = 70;
const CH_a = 97;
const CH_f = 102;
const CH_DOT = 46;
const CH_COLON = 58;

/** Scratch for parseIPv4's result. */
const v4Scratch = new Float64Array(1);

/**
 * Parses strict dotted-quad IPv4 (`a.b.c.d`, decimal, no leading zeros) in `s[start, end)`.
 * Returns the address as an unsigned 32-bit number, or -1.
 */
export function parseIPv4(s: string, start = 0, end = s.length): number {
  return readIPv4(s, start, end, v4Scratch) ? v4Scratch[0]! : -1;
}

/**
 * parseIPv4 for the hot path: writes the address to `out[0]` and returns whether it was one.
 * Most IPv4 addresses are above V8's small-integer range, so a function that returns one as a
 * number allocates a heap number whenever the call is not inlined; a typed array does not.
 */
function readIPv4(s: string, start: number, end: number, out: Float64Array): boolean {
  let value = 0;
  let parts = 0;
  let i = start;
  while (i <= end) {
    const partStart = i;
    let octet = 0;
    while (i < end) {
      const c = s.charCodeAt(i);
      if (c < CH_0 || c > CH_9) break;
      octet = octet * 10 + (c - CH_0);
      i++;
    }
    const digits = i - partStart;
    if (digits === 0 || digits > 3 || octet > 255) return false;
    if (digits > 1 && s.charCodeAt(partStart) === CH_0) return false; // 010 could mean octal: refuse
    value = value * 256 + octet;
    parts++;
    if (i === end) break;
    if (s.charCodeAt(i) !== CH_DOT || parts === 4) return false;
    i++;
  }
  if (parts !== 4) return false;
  out[0] = value;
  return true;
}

/**
 * Value of each ASCII hex digit by character code, -1 for other characters. A table lookup
 * instead of range tests: with random hex digits the range branches mispredict, and IPv6
 * parsing (on every datagram from an IPv6 peer) ran ~2.5x slower.
 */
const HEX_VALUE = new Int8Array(128).fill(-1);
for (let c = CH_0; c <= CH_9; c++) HEX_VALUE[c] = c - CH_0;
for (let c = CH_a; c <= CH_f; c++) HEX_VALUE[c] = c - CH_a + 10;
for (let c = CH_A; c <= CH_F; c++) HEX_VALUE[c] = c - CH_A + 10;

function hexValue(c: number): number {
  return c < 128 ? HEX_VALUE[c]! : -1;
}

/**
 * Parses an IPv6 address (RFC 4291 text forms, including `::` and a trailing dotted IPv4 part)
 * in `s[start, end)` into `out`. No zone index, no brackets. Returns false when invalid.
 */
export function parseIPv6(s: string, out: Uint16Array, start = 0, end = s.length): boolean {
  let words = 0;
  let gap = -1; // index in out where '::' stands
  let i = start;
  if (i === end) return false;
  if (s.charCodeAt(i) === CH_COLON) {
    if (i + 1 >= end || s.charCodeAt(i + 1) !== CH_COLON) return false;
    gap = 0;
    i += 2;
    if (i === end) {
      out.fill(0);
      return true;
    }
  }
  while (i < end) {
    if (words === 8) return false;
    const groupStart = i;
    let value = 0;
    while (i < end) {
      const h = hexValue(s.charCodeAt(i));
      if (h < 0) break;
      value = (value << 4) | h;
      i++;
    }
    const digits = i - groupStart;
    if (i < end && s.charCodeAt(i) === CH_DOT) {
      // Trailing IPv4 part: takes the last two words.
      if (words > 6) return false;
      if (!readIPv4(s, groupStart, end, v4Scratch)) return false;
      const v4 = v4Scratch[0]!;
      out[words++] = v4 >>> 16;
      out[words++] = v4 & 0xffff;
      i = end;
      break;
    }
    if (digits === 0 || digits > 4) return false;
    out[words++] = value;
    if (i === end) break;
    if (s.charCodeAt(i) !== CH_COLON) return false;
    i++;
    if (i < end && s.charCodeAt(i) === CH_COLON) {
      if (gap >= 0) return false; // a second '::'
      gap = words;
      i++;
      if (i === end) break;
    } else if (i === end) {
      return false; // trailing single ':'
    }
  }
  if (gap < 0) return words === 8;
  if (words > 7) return false; // '::' stands for at least one zero word
  const tail = words - gap;
  for (let k = 1; k <= tail; k++) out[8 - k] = out[words - k]!;
  for (let k = gap; k < 8 - tail; k++) out[k] = 0;
  return true;
}

/** True when the eight words are an IPv4-mapped address `::ffff:a.b.c.d`. */
export function isMapped(w: Uint16Array): boolean {
  return w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0 && w[5] === 0xffff;
}

export function formatIPv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** RFC 5952 text: lowercase, no leading zeros, the longest run (>= 2) of zero words as `::`. */
export function formatIPv6(w: Uint16Array): string {
  if (isMapped(w)) return `::ffff:${formatIPv4(((w[6]! << 16) | w[7]!) >>> 0)}`;
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += '::';
      i += bestLen - 1;
      continue;
    }
    if (out !== '' && !out.endsWith(':')) out += ':';
    out += w[i]!.toString(16);
  }
  return out;
}

/** Parsed address: IPv4 as a number, or IPv6 words (a fresh copy). Mapped addresses stay IPv6 here. */
export type ParsedIp = { family: 4; v4: number } | { family: 6; v6: Uint16Array };

/** End of the address part of `ip`: a `%zone` suffix (as sockets report link-local peers) is ignored. */
function addressEnd(ip: string): number {
  const p = ip.indexOf('%');
  return p < 0 ? ip.length : p;
}

/** Parses an IPv4 or IPv6 literal (no brackets). `allowZone` accepts and ignores `%zone`. */
export function parseIp(ip: string, allowZone = false): ParsedIp | undefined {
  if (ip.indexOf(':') < 0) {
    const v4 = parseIPv4(ip);
    return v4 < 0 ? undefined : { family: 4, v4 };
  }
  const end = allowZone ? addressEnd(ip) : ip.length;
  if (end === 0 || (end < ip.length && end === ip.length - 1)) return undefined;
  const w = new Uint16Array(8);
  return parseIPv6(ip, w, 0, end) ? { family: 6, v6: w } : undefined;
}

/**
 * Family of an IP literal as sipwarden matches it: 4 for IPv4 and IPv4-mapped IPv6, 6 for other
 * IPv6, 0 when `ip` is not an address. Writes the IPv4 value to `v4Out[0]` or the IPv6 words to
 * `scratch`-like `v6Out`. Used by the hot path; no allocation.
 */
export function classifyIp(ip: string, v4Out: Float64Array, v6Out: Uint16Array): 0 | 4 | 6 {
  const colon = ip.indexOf(':');
  if (colon < 0) return readIPv4(ip, 0, ip.length, v4Out) ? 4 : 0;
  if (!parseIPv6(ip, v6Out, 0, addressEnd(ip))) return 0;
  if (isMapped(v6Out)) {
    v4Out[0] = ((v6Out[6]! << 16) | v6Out[7]!) >>> 0;
    return 4;
  }
  return 6;
}

const v4Box = new Float64Array(1);

/**
 * The canonical text of an address, as used for keys, bans and logs: dotted-quad IPv4; IPv4-mapped
 * IPv6 becomes the IPv4 address; other IPv6 in RFC 5952 form; a `%zone` suffix is dropped.
 * Throws an Error for anything that is not an IP address.
 */
export function normalizeIp(ip: string): string {
  const family = classifyIp(ip, v4Box, scratch);
  if (family === 4) return formatIPv4(v4Box[0]!);
  if (family === 6) return formatIPv6(scratch);
  throw new Error(`${describe(ip)} is not an IP address`);
}

/** IPv4 network mask for a prefix length, as an unsigned 32-bit number. */
export function v4Mask(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** Masks IPv6 words in place to the first `bits` bits. */
export function maskV6(w: Uint16Array, bits: number): void {
  for (let i = 0; i < 8; i++) {
    const keep = bits - i * 16;
    if (keep >= 16) continue;
    w[i] = keep <= 0 ? 0 : w[i]! & ((0xffff << (16 - keep)) & 0xffff);
  }
}

function checkBits(bits: number, max: number, name: string): void {
  if (!Number.isInteger(bits) || bits < 0 || bits > max) {
    throw new RangeError(`${name} must be an integer from 0 to ${max}, got ${bits}`);
  }
}

/**
 * The address masked to a prefix, as a string key: `a.b.c.d/v4Bits` for IPv4 (and IPv4-mapped
 * IPv6), `x:x::/v6Bits` for IPv6; the `/bits` suffix is left out at full length, so
 * `prefixKey(ip, 32, 128) === normalizeIp(ip)`. Used to aggregate per-source counters per
 * network (an IPv6 attacker owns a whole /64). Throws an Error for anything not an address.
 */
export function prefixKey(ip: string, v4Bits: number, v6Bits: number): string {
  checkBits(v4Bits, 32, 'v4Bits');
  checkBits(v6Bits, 128, 'v6Bits');
  const family = classifyIp(ip, v4Box, scratch);
  if (family === 4) {
    const masked = (v4Box[0]! & v4Mask(v4Bits)) >>> 0;
    return v4Bits === 32 ? formatIPv4(masked) : `${formatIPv4(masked)}/${v4Bits}`;
  }
  if (family === 6) {
    maskV6(scratch, v6Bits);
    return v6Bits === 128 ? formatIPv6(scratch) : `${formatIPv6(scratch)}/${v6Bits}`;
  }
  throw new Error(`${describe(ip)} is not an IP address`);
}

/** A value quoted for an error message, cut short so an error never carries a huge string. */
export function describe(value: unknown): string {
  if (typeof value !== 'string') return String(value);
  const text = value.length > 80 ? `${value.slice(0, 80)}…` : value;
  return JSON.stringify(text);
}
