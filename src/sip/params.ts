import { SipParseError } from './errors.js';

/**
 * An ordered list of `;name=value` parameters. Names compare case-insensitively and are
 * stored lower-cased; a parameter without `=` has the value `null`. Kept as a flat array:
 * few entries, insertion order preserved, no prototype surprises from attacker-chosen names.
 */
/** The items of every empty Params until its first `add` (most URIs have no parameters). */
const NO_ITEMS: Array<string | null> = [];

export class Params {
  /** name0, value0, name1, value1, ... (NO_ITEMS, shared, while empty: never written to). */
  private items: Array<string | null>;
  /** The names, once there are many: keeps `add` constant-time on attacker-sized lists. */
  private names: Set<string> | undefined = undefined;

  /**
   * `items` (name0, value0, name1, value1, ...) is taken as it is, for parsers that built
   * it: names lower-case and distinct, at most 8 of them.
   */
  constructor(items: Array<string | null> = NO_ITEMS) {
    this.items = items.length === 0 ? NO_ITEMS : items;
  }

  get size(): number {
    return this.items.length >> 1;
  }

  has(name: string): boolean {
    return this.indexOf(name) !== -1;
  }

  /** The value, `null` for a flag parameter, `undefined` when absent. */
  get(name: string): string | null | undefined {
    const i = this.indexOf(name);
    return i === -1 ? undefined : this.items[i + 1];
  }

  set(name: string, value: string | null): void {
    const lower = name.toLowerCase();
    const i = this.indexOf(lower);
    if (i !== -1) this.items[i + 1] = value;
    else this.add(lower, value);
  }

  /**
   * Appends a parameter unless one with this name is present; returns whether it did.
   * Parsing uses it to reject repeated parameters.
   */
  add(name: string, value: string | null): boolean {
    const lower = name.toLowerCase();
    if (this.items === NO_ITEMS) this.items = [];
    const items = this.items;
    if (this.names !== undefined) {
      if (this.names.has(lower)) return false;
      this.names.add(lower);
    } else {
      for (let i = 0; i < items.length; i += 2) if (items[i] === lower) return false;
      if (items.length >= 16) {
        this.names = new Set<string>();
        for (let i = 0; i < items.length; i += 2) this.names.add(items[i] as string);
        this.names.add(lower);
      }
    }
    items.push(lower, value);
    return true;
  }

  delete(name: string): void {
    const i = this.indexOf(name);
    if (i === -1) return;
    this.names?.delete(this.items[i] as string);
    this.items.splice(i, 2);
  }

  *entries(): IterableIterator<[string, string | null]> {
    for (let i = 0; i < this.items.length; i += 2) yield [this.items[i] as string, this.items[i + 1] ?? null];
  }

  /** Serialises as `;a=b;c` in insertion order. */
  toString(): string {
    let out = '';
    for (let i = 0; i < this.items.length; i += 2) {
      out += `;${this.items[i]}`;
      const v = this.items[i + 1];
      if (v !== null && v !== undefined) out += `=${v}`;
    }
    return out;
  }

  toJSON(): Record<string, string | null> {
    const o: Record<string, string | null> = {};
    for (const [k, v] of this.entries()) Object.defineProperty(o, k, { value: v, enumerable: true });
    return o;
  }

  private indexOf(name: string): number {
    const items = this.items;
    for (let i = 0; i < items.length; i += 2) if (items[i] === name) return i;
    // Names are stored lower-case: on a miss, retry lower-cased if that can change the name
    // (checked by hand: a miss for `rport` or `received` is common and must stay cheap).
    for (let k = 0; k < name.length; k++) {
      const c = name.charCodeAt(k);
      if ((c >= 0x41 && c <= 0x5a) || c >= 0x80) {
        const lower = name.toLowerCase();
        return lower === name ? -1 : this.indexOf(lower);
      }
    }
    return -1;
  }
}

export type CharCheck = (s: string, start: number, end: number) => boolean;

function skipLws(s: string, i: number, end: number): number {
  while (i < end) {
    const c = s.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09) break;
    i++;
  }
  return i;
}

function trimEnd(s: string, start: number, end: number): number {
  while (end > start) {
    const c = s.charCodeAt(end - 1);
    if (c !== 0x20 && c !== 0x09) break;
    end--;
  }
  return end;
}

/**
 * Parses `*( SEMI name [EQUAL value] )` from s[start, end), where `start` points at the
 * first `;`. LWS around `;` and `=` is allowed (header parameters); values may be quoted
 * strings (kept with their quotes). `checkName`/`checkValue` validate each piece. A
 * parameter given twice is an error: `;tag=a;tag=b` is never resolved by picking one, as
 * the next hop could pick the other (the same reasoning as for two Content-Lengths).
 */
export function parseParams(
  s: string,
  start: number,
  end: number,
  what: string,
  checkName: CharCheck,
  checkValue: CharCheck,
  into: Params = new Params(),
): Params {
  let i = start;
  while (i < end) {
    i = skipLws(s, i, end);
    if (i >= end) break;
    if (s.charCodeAt(i) !== 0x3b) throw badParam(what);
    i = skipLws(s, i + 1, end);
    const nameStart = i;
    while (i < end) {
      const c = s.charCodeAt(i);
      if (c === 0x3d || c === 0x3b || c === 0x20 || c === 0x09) break;
      i++;
    }
    const nameEnd = i;
    if (nameEnd === nameStart || !checkName(s, nameStart, nameEnd)) throw badParam(what);
    const name = s.slice(nameStart, nameEnd);
    i = skipLws(s, i, end);
    if (i < end && s.charCodeAt(i) === 0x3d) {
      i = skipLws(s, i + 1, end);
      let valueEnd: number;
      const valueStart = i;
      if (i < end && s.charCodeAt(i) === 0x22) {
        valueEnd = quotedStringEnd(s, i, end);
        if (valueEnd === -1) throw badParam(what);
        i = valueEnd;
      } else {
        while (i < end && s.charCodeAt(i) !== 0x3b) i++;
        valueEnd = trimEnd(s, valueStart, i);
        if (valueEnd === valueStart || !checkValue(s, valueStart, valueEnd)) throw badParam(what);
      }
      if (!into.add(name, s.slice(valueStart, valueEnd))) throw badParam(what);
    } else if (!into.add(name, null)) {
      throw badParam(what);
    }
  }
  return into;
}

/** Given s[i] === '"', returns the index just past the closing quote, or -1. */
export function quotedStringEnd(s: string, i: number, end: number): number {
  for (i++; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x22) return i + 1;
  }
  return -1;
}

function badParam(what: string): SipParseError {
  return what === 'Request-URI'
    ? new SipParseError('bad-request-uri', 'Bad Request-URI')
    : new SipParseError('bad-header', `Bad ${what} parameter`, what);
}

export { skipLws, trimEnd };
