/**
 * Field helpers of the configuration schema: the value kinds settings are written in
 * (durations, whole numbers in a range, networks, endpoint URLs, file paths), each with the
 * error message it gives and the documentation it carries (`type`, `bounds` in zod meta).
 *
 * Every owner of settings (a guard, the honeypot, the store ...) writes its section with
 * these in its own `config.ts`; `schema.ts` composes the sections into the file's schema.
 */
import { isAbsolute, resolve } from 'node:path';
import * as z from 'zod';
import { normalizeCidr } from '../net/cidr.js';
import { describe } from '../net/ip.js';
import { DURATION_HINT, formatDuration, MAX_DURATION_MS, parseDuration } from './duration.js';
import { type Endpoint, type EndpointOptions, type HostPort, parseEndpoint, parseHostPort } from './endpoint.js';

/**
 * `schema` followed by a check of its value that runs only when the value parsed cleanly (a
 * refinement would also run after an unknown key, and report a consequence of it).
 */
export function checked<T extends z.ZodType>(schema: T, check: (value: z.output<T>, ctx: z.RefinementCtx) => void) {
  return schema.transform((value, ctx) => {
    // An unknown key inside does not stop a pipe; its issue is already there.
    if (ctx.issues.length === 0) check(value, ctx);
    return value;
  });
}

/** A value as an error message shows it: strings quoted (and cut short), collections by kind. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return describe(value);
}

export function fail(ctx: z.RefinementCtx, message: string): typeof z.NEVER {
  ctx.addIssue({ code: 'custom', message });
  return z.NEVER;
}

/** A required value that was left out reaches a `z.unknown()` leaf as undefined. */
function required(ctx: z.RefinementCtx): typeof z.NEVER {
  return fail(ctx, 'required');
}

/** A duration (`2s`, `5m` ...), in milliseconds, from `min` to MAX_DURATION_MS. */
export const duration = (min: number) =>
  z
    .unknown()
    .transform((value, ctx): number => {
      if (value === undefined) return required(ctx);
      const ms = parseDuration(value);
      if (ms === undefined) return fail(ctx, `${describeValue(value)} is not a duration (${DURATION_HINT})`);
      if (ms < min) return fail(ctx, `must be at least ${formatDuration(min)}`);
      if (ms > MAX_DURATION_MS) return fail(ctx, `must be at most ${formatDuration(MAX_DURATION_MS)}`);
      return ms;
    })
    .meta({ type: 'duration', bounds: `${formatDuration(min)}–${formatDuration(MAX_DURATION_MS)}`, duration: true });

/** A whole number from `min` to `max` (a string of digits is taken too: `${VAR}` yields one). */
export const integer = (min: number, max: number) =>
  z
    .unknown()
    .transform((value, ctx): number => {
      if (value === undefined) return required(ctx);
      const n =
        typeof value === 'number' ? value : typeof value === 'string' && /^[0-9]+$/.test(value) ? Number(value) : NaN;
      if (!Number.isInteger(n)) return fail(ctx, `expected a whole number, got ${describeValue(value)}`);
      if (n < min || n > max) return fail(ctx, `must be from ${min} to ${max}, got ${n}`);
      return n;
    })
    .meta({ type: 'integer', bounds: `${min}–${max}` });

/** The lower and upper bound of an `integer()` field, for code that checks the same setting. */
export interface Bounds {
  readonly min: number;
  readonly max: number;
}

/** A network or address, kept in canonical form. */
export const cidr = z
  .string()
  .transform((text, ctx): string => {
    try {
      return normalizeCidr(text);
    } catch (err) {
      return fail(ctx, (err as Error).message);
    }
  })
  .meta({ type: 'network or address' });

/** A list whose repeated entries count once (first place kept). */
export const uniqueList = <T extends z.ZodType>(item: T) =>
  z.array(item).transform((list): z.output<T>[] => [...new Set(list)]);

export const nonEmpty = z.string().min(1, { error: 'must not be empty' });

export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z
    .enum(values, { error: `must be one of ${values.join(', ')}` })
    .meta({ type: values.map((v) => `\`${v}\``).join(', ') });
}

/** Every guard's `mode`. */
export const GUARD_MODES = ['enforce', 'monitor', 'off'] as const;
export type GuardMode = (typeof GUARD_MODES)[number];
export const mode = oneOf(GUARD_MODES);

export const endpoint = (options: EndpointOptions) =>
  z
    .string()
    .transform((url, ctx): Endpoint => {
      try {
        return parseEndpoint(url, options);
      } catch (err) {
        return fail(ctx, (err as Error).message);
      }
    })
    .meta({ type: 'endpoint URL' });

/** `host[:port]`; port 0 stands for "the listener's port" (filled in by the listen section). */
export const hostPort = z
  .string()
  .transform((text, ctx): HostPort => {
    try {
      return parseHostPort(text, 0);
    } catch (err) {
      return fail(ctx, (err as Error).message);
    }
  })
  .meta({ type: '`host[:port]`' });

/** Shortest secret accepted (`secret`, `guards.auth.secret`); a secret is never quoted in a message. */
export const MIN_SECRET_LENGTH = 32;

// ---- file paths: relative to the configuration file ----

interface PathBase {
  /** Directory of the configuration file: relative paths in it are resolved against it. */
  readonly baseDir: string;
  /** Working directory: relative defaults (`data_dir`) are resolved against it. */
  readonly cwd: string;
}

let pathBase: PathBase | undefined;

/**
 * Runs `parse` with relative file paths resolved against `base` (the loader's call); outside
 * it they are resolved against the working directory. Parsing is synchronous, so the setting
 * cannot leak into another parse.
 */
export function withPathBase<T>(base: PathBase, parse: () => T): T {
  const previous = pathBase;
  pathBase = base;
  try {
    return parse();
  } finally {
    pathBase = previous;
  }
}

/** Absolute form of a path written in the file. */
export function resolveWritten(path: string): string {
  return isAbsolute(path) ? path : resolve(pathBase?.baseDir ?? process.cwd(), path);
}

/** Absolute form of a default path (relative to the working directory). */
export function resolveDefault(path: string): string {
  return resolve(pathBase?.cwd ?? process.cwd(), path);
}

/** A file path, made absolute against the configuration file's directory. */
export const filePath = nonEmpty.transform(resolveWritten).meta({ type: 'file path' });
