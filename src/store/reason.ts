/** What an operator's ban records (the CLI's `sipwarden bans add`, the admin API): its guard name and a clean reason. */

/** The guard name recorded for bans an operator adds. */
export const ADMIN_GUARD = 'admin';
/** Longest reason kept (characters). */
export const MAX_REASON_LENGTH = 200;

/**
 * Operator text made fit to store and print: control characters (C0, DEL, C1), line and
 * paragraph separators, bidirectional controls and lone surrogates removed, runs of white
 * space made one space, trimmed, at most `MAX_REASON_LENGTH` characters (a pair never split).
 */
export function cleanReason(text: string): string {
  let out = '';
  let length = 0;
  let space = false;
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (c < 0x20 || c === 0x7f || (c >= 0x80 && c <= 0x9f) || ch === ' ' || c === 0xa0 || c === 0x3000) {
      // C0/C1 controls (tab and newline included) and spaces: one space between words.
      space = out !== '';
      continue;
    }
    if (
      c === 0x2028 ||
      c === 0x2029 ||
      c === 0x200e ||
      c === 0x200f ||
      (c >= 0x202a && c <= 0x202e) ||
      (c >= 0x2066 && c <= 0x2069) ||
      (c >= 0xd800 && c <= 0xdfff)
    ) {
      continue;
    }
    const add = (space ? 1 : 0) + ch.length;
    if (length + add > MAX_REASON_LENGTH) break;
    if (space) out += ' ';
    out += ch;
    length += add;
    space = false;
  }
  return out;
}
