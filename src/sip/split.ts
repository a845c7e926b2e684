/**
 * Splits a header value at the commas that separate list elements, ignoring commas inside
 * quoted strings and angle brackets. Returns [start, end) pairs into `s`, each trimmed.
 * Linear in the length of `s`.
 */
export function splitList(s: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let start = 0;
  let inQuote = false;
  let inAngle = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (inQuote) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inQuote = false;
    } else if (c === 0x22) {
      inQuote = true;
    } else if (c === 0x3c) {
      inAngle = true;
    } else if (c === 0x3e) {
      inAngle = false;
    } else if (c === 0x2c && !inAngle) {
      out.push(trimmed(s, start, i));
      start = i + 1;
    }
  }
  out.push(trimmed(s, start, s.length));
  return out;
}

/** End of the first list element of s[start, end) (index of its separating comma, or `end`). */
export function firstElementEnd(s: string, start = 0, end = s.length): number {
  let inQuote = false;
  let inAngle = false;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (inQuote) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inQuote = false;
    } else if (c === 0x22) inQuote = true;
    else if (c === 0x3c) inAngle = true;
    else if (c === 0x3e) inAngle = false;
    else if (c === 0x2c && !inAngle) return i;
  }
  return end;
}

function trimmed(s: string, start: number, end: number): [number, number] {
  while (start < end && isLws(s.charCodeAt(start))) start++;
  while (end > start && isLws(s.charCodeAt(end - 1))) end--;
  return [start, end];
}

function isLws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}
