import { SipParseError } from './errors.js';

/**
 * An ordered list of `;name=value` parameters. Names compare case-insensitively and are
 * stored lower-cased; a parameter without `=` has the value `null`. Kept as a flat array:
 * few entries, insertion order preserved, no prototype surprises from attacker-chosen names.
 */
export class Params {
  /** name0, value0, name1, value1, ... */
  private readonly items: Array<string | null> = [];

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
    if (i === -1) this.items.push(lower, value);
    else this.items[i + 1] = value;
  }

  delete(name: string): void {
    const i = this.indexOf(name);
    if (i !== -1) this.items.splice(i, 2);
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
    if (name !== name.toLowerCase()) return this.indexOf(name.toLowerCase());
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
 * strings (kept with their quotes). `checkName`/`checkValue` validate each piece.
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
      into.set(name, s.slice(valueStart, valueEnd));
    } else {
      into.set(name, null);
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
  return new SipParseError('bad-header', `Bad ${what} parameter`, what);
}

export { skipLws, trimEnd };
