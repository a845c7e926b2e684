/**
 * Makes attacker-controlled text safe to put into a plain-text log line (fail2ban lines, console
 * messages): nothing it contains can end the line, start a forged one, or hide or reorder text.
 *
 * Escaped as `\xNN`: C0 controls (U+0000–U+001F, which include CR and LF), DEL (U+007F) and
 * C1 controls (U+0080–U+009F, which include NEL U+0085). Escaped as `\uNNNN`: the Unicode line
 * and paragraph separators U+2028/U+2029, the bidirectional formatting characters (U+200E,
 * U+200F, U+202A–U+202E, U+2066–U+2069: "Trojan Source" reordering) and unpaired surrogates.
 * A backslash becomes `\\`, so an escape in the output always means an escape and cannot be
 * forged by sending the text `\x0a`. Everything else, including all other non-ASCII text, is
 * kept as it is.
 *
 * The result is at most `maxLen` characters (UTF-16 code units). When the text had to be cut,
 * it ends with `…` (U+2026) and no escape or surrogate pair is split. Work is bounded by
 * `maxLen`, not by the length of the input.
 */
export function sanitize(text: string, maxLen = 256): string {
  if (typeof text !== 'string') text = String(text);
  if (!Number.isInteger(maxLen) || maxLen < 1) throw new RangeError(`maxLen must be a positive integer, got ${maxLen}`);
  // Fast path: short and clean.
  if (text.length <= maxLen) {
    let clean = true;
    for (let i = 0; i < text.length; i++) {
      if (needsEscape(text.charCodeAt(i))) {
        clean = false;
        break;
      }
    }
    if (clean) return text;
  }
  let out = '';
  // Length of `out` at the last piece boundary that still leaves room for the marker.
  let cut = 0;
  const budget = maxLen - 1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    let piece: string;
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if (next >= 0xdc00 && next <= 0xdfff) {
        piece = text.slice(i, i + 2);
        i++;
      } else {
        piece = `\\u${c.toString(16)}`;
      }
    } else if (needsEscape(c)) {
      piece = escapeUnit(c);
    } else {
      piece = text[i]!;
    }
    if (out.length + piece.length > maxLen) return `${out.slice(0, cut)}…`;
    out += piece;
    if (out.length <= budget) cut = out.length;
  }
  return out;
}

function needsEscape(c: number): boolean {
  if (c < 0x20 || c === 0x5c || (c >= 0x7f && c <= 0x9f)) return true;
  if (c < 0x200e) return false;
  return (
    c === 0x200e ||
    c === 0x200f ||
    c === 0x2028 ||
    c === 0x2029 ||
    (c >= 0x202a && c <= 0x202e) ||
    (c >= 0x2066 && c <= 0x2069) ||
    (c >= 0xd800 && c <= 0xdfff)
  );
}

function escapeUnit(c: number): string {
  if (c === 0x5c) return '\\\\';
  if (c <= 0xff) return `\\x${c.toString(16).padStart(2, '0')}`;
  return `\\u${c.toString(16).padStart(4, '0')}`;
}
