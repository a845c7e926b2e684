/**
 * Pattern lists (scanner User-Agents, SDP session names) compiled into one matcher.
 *
 * A pattern is either a case-insensitive substring (`friendly-scanner`) or a regular
 * expression between slashes (`/^sipcli\b/`), also case-insensitive. Substrings are matched
 * on the octets of a header value in place, with a table of the patterns by first octet:
 * one pass over the value, no string made, nothing allocated. Regular expressions need a
 * string; one is decoded only when the list holds any, and only from the first
 * `REGEX_INPUT_LIMIT` octets, which bounds the work of a pathological expression on
 * attacker-sized input.
 *
 * Case is folded for ASCII letters; other octets (UTF-8 text) must match exactly.
 */

/** Octets of a value a regular expression pattern sees at most. */
export const REGEX_INPUT_LIMIT = 1024;

/** ASCII lower-casing of one octet. */
const LOWER = (() => {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
  return t;
})();

/** The regular expression of a `/.../` pattern, or undefined for a substring pattern. */
function regexBody(pattern: string): string | undefined {
  return pattern.length >= 3 && pattern.charCodeAt(0) === 0x2f && pattern.charCodeAt(pattern.length - 1) === 0x2f
    ? pattern.slice(1, -1)
    : undefined;
}

/** Why a pattern cannot be used, or undefined when it can (for configuration checks). */
export function patternError(pattern: string): string | undefined {
  if (pattern.length === 0) return 'must not be empty';
  const body = regexBody(pattern);
  if (body === undefined) return undefined;
  try {
    new RegExp(body, 'i');
    return undefined;
  } catch (err) {
    return `is not a valid regular expression (${(err as Error).message})`;
  }
}

export class PatternMatcher {
  /** The patterns as configured, in order; match results index into it. */
  readonly patterns: readonly string[];
  /** Substring patterns, lower-cased UTF-8, one after the other. */
  private readonly bytes: Uint8Array;
  private readonly start: Int32Array;
  private readonly length: Int32Array;
  /** Configured index of each substring pattern. */
  private readonly origin: Int32Array;
  /** Substring patterns sorted by first octet: those starting with `c` are byFirst[first[c] .. first[c + 1]). */
  private readonly first: Int32Array;
  private readonly byFirst: Int32Array;
  /** Every regular expression pattern in one, and each alone (to name the one that matched). */
  private readonly anyRegex: RegExp | undefined;
  private readonly regexes: readonly RegExp[];
  private readonly regexOrigin: Int32Array;

  /** Throws an Error naming the pattern when a `/regex/` does not compile. */
  constructor(patterns: readonly string[]) {
    this.patterns = Object.freeze([...patterns]);
    const literals: Array<{ bytes: Buffer; origin: number }> = [];
    const regexes: RegExp[] = [];
    const regexOrigin: number[] = [];
    patterns.forEach((pattern, k) => {
      const error = patternError(pattern);
      if (error !== undefined) throw new Error(`pattern ${JSON.stringify(pattern)} ${error}`);
      const body = regexBody(pattern);
      if (body !== undefined) {
        regexes.push(new RegExp(body, 'i'));
        regexOrigin.push(k);
      } else {
        literals.push({ bytes: Buffer.from(pattern.toLowerCase(), 'utf8'), origin: k });
      }
    });

    const total = literals.reduce((n, l) => n + l.bytes.length, 0);
    this.bytes = new Uint8Array(total);
    this.start = new Int32Array(literals.length);
    this.length = new Int32Array(literals.length);
    this.origin = new Int32Array(literals.length);
    let at = 0;
    literals.forEach((l, k) => {
      this.bytes.set(l.bytes, at);
      this.start[k] = at;
      this.length[k] = l.bytes.length;
      this.origin[k] = l.origin;
      at += l.bytes.length;
    });
    // Counting sort of the literals by first octet.
    this.first = new Int32Array(257);
    for (let k = 0; k < literals.length; k++) this.first[this.bytes[this.start[k]!]! + 1]!++;
    for (let c = 0; c < 256; c++) this.first[c + 1]! += this.first[c]!;
    this.byFirst = new Int32Array(literals.length);
    const fill = this.first.slice(0, 256);
    for (let k = 0; k < literals.length; k++) this.byFirst[fill[this.bytes[this.start[k]!]!]!++] = k;

    this.regexes = regexes;
    this.regexOrigin = Int32Array.from(regexOrigin);
    this.anyRegex = regexes.length === 0 ? undefined : new RegExp(regexes.map((r) => `(?:${r.source})`).join('|'), 'i');
  }

  get size(): number {
    return this.patterns.length;
  }

  /** Whether any pattern is a `/regex/` (which reads REGEX_INPUT_LIMIT octets of a value). */
  get hasRegex(): boolean {
    return this.anyRegex !== undefined;
  }

  /**
   * Index (in `patterns`) of a pattern found in buf[a, b), or -1. Substrings are tried
   * first; among them the earliest match in the value wins.
   */
  matchBytes(buf: Buffer, a: number, b: number): number {
    const k = this.matchLiterals(buf, a, b);
    if (k !== -1 || this.anyRegex === undefined) return k;
    return this.matchRegex(buf.toString('utf8', a, Math.min(b, a + REGEX_INPUT_LIMIT)));
  }

  /** Index of a pattern found in `s`, or -1 (for text already decoded). */
  matchString(s: string): number {
    if (this.byFirst.length > 0) {
      const bytes = Buffer.from(s, 'utf8');
      const k = this.matchLiterals(bytes, 0, bytes.length);
      if (k !== -1) return k;
    }
    if (this.anyRegex === undefined) return -1;
    return this.matchRegex(s.length > REGEX_INPUT_LIMIT ? s.slice(0, REGEX_INPUT_LIMIT) : s);
  }

  private matchLiterals(buf: Uint8Array, a: number, b: number): number {
    const first = this.first;
    const byFirst = this.byFirst;
    const bytes = this.bytes;
    for (let i = a; i < b; i++) {
      const c = LOWER[buf[i]!]!;
      let k = first[c]!;
      const end = first[c + 1]!;
      for (; k < end; k++) {
        const p = byFirst[k]!;
        const len = this.length[p]!;
        if (len > b - i) continue;
        const s = this.start[p]!;
        let j = 1;
        while (j < len && LOWER[buf[i + j]!] === bytes[s + j]) j++;
        if (j === len) return this.origin[p]!;
      }
    }
    return -1;
  }

  private matchRegex(text: string): number {
    if (!this.anyRegex!.test(text)) return -1;
    for (let k = 0; k < this.regexes.length; k++) if (this.regexes[k]!.test(text)) return this.regexOrigin[k]!;
    return -1;
  }
}
