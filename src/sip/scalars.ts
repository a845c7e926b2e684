import { isDigit, isToken } from './chars.js';
import { headerError } from './errors.js';
import { skipLws, trimEnd } from './params.js';

/** Largest CSeq sequence number (RFC 3261 8.1.1.5: less than 2**31). */
const MAX_CSEQ = 2 ** 31 - 1;
/** delta-seconds are 32-bit (RFC 3261 20.19, 25.1). */
export const MAX_DELTA_SECONDS = 2 ** 32 - 1;

export interface CSeq {
  seq: number;
  method: string;
}

/**
 * Parses a non-negative decimal integer in s (LWS around it allowed), rejecting anything
 * above `max`. Leading zeros are fine (RFC 4475 3.1.1.1); the digit count is bounded before
 * conversion so huge values cannot lose precision silently.
 */
export function parseDecimal(s: string, max: number, header: string): number {
  let i = skipLws(s, 0, s.length);
  const end = trimEnd(s, i, s.length);
  if (i === end) throw headerError(header);
  while (i < end - 1 && s.charCodeAt(i) === 0x30) i++;
  if (end - i > 10) throw headerError(header, 'value too large');
  for (let k = i; k < end; k++) if (!isDigit(s.charCodeAt(k))) throw headerError(header);
  const n = Number(s.slice(i, end));
  if (n > max) throw headerError(header, 'value too large');
  return n;
}

export function parseCSeq(s: string): CSeq {
  let i = skipLws(s, 0, s.length);
  const ds = i;
  while (i < s.length && isDigit(s.charCodeAt(i))) i++;
  const de = i;
  const ms = skipLws(s, i, s.length);
  const me = trimEnd(s, ms, s.length);
  if (de === ds || ms === de || !isToken(s, ms, me)) throw headerError('CSeq');
  const seq = parseDecimal(s.slice(ds, de), MAX_CSEQ, 'CSeq');
  return { seq, method: s.slice(ms, me) };
}

export function parseMaxForwards(s: string): number {
  return parseDecimal(s, 255, 'Max-Forwards');
}

export function parseExpires(s: string): number {
  return parseDecimal(s, MAX_DELTA_SECONDS, 'Expires');
}

/** Call-ID = word [ "@" word ]: printable, no whitespace. */
export function checkCallId(s: string): string {
  const v = s.trim();
  if (v.length === 0) throw headerError('Call-ID');
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) throw headerError('Call-ID');
  }
  return v;
}

const DATE_RE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/** SIP-date = rfc1123-date, always GMT (RFC 3261 20.17; RFC 4475 3.1.2.12). */
export function parseSipDate(s: string): Date {
  const v = s.trim();
  if (!DATE_RE.test(v)) throw headerError('Date');
  const d = new Date(v);
  // Date() rolls impossible days over (31 Feb becomes 2 Mar): the day must survive.
  if (Number.isNaN(d.getTime()) || d.getUTCDate() !== Number(v.slice(5, 7))) throw headerError('Date');
  return d;
}
