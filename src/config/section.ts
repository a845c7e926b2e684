/**
 * `section()`: a mapping of the configuration file, written with its YAML (snake_case) keys,
 * whose parsed value has the camelCase keys the code reads. The output type is inferred
 * from the keys (`max_messages` -> `maxMessages`), so a setting is written once.
 */
import * as z from 'zod';

/** `max_messages` -> `maxMessages`. */
export type CamelCase<K extends string> = K extends `${infer Head}_${infer Tail}`
  ? `${Head}${Capitalize<CamelCase<Tail>>}`
  : K;

/** Read-only all the way down (the loaded configuration is deeply frozen). */
export type Frozen<T> = T extends (infer E)[]
  ? readonly Frozen<E>[]
  : T extends readonly (infer E)[]
    ? readonly Frozen<E>[]
    : T extends object
      ? { readonly [K in keyof T]: Frozen<T[K]> }
      : T;

/** The parsed value of a section: every key of the shape (left out ones as undefined), camelCase. */
export type SectionOutput<S extends z.ZodRawShape> = {
  readonly [K in keyof S & string as CamelCase<K>]: Frozen<z.output<S[K]>>;
};

export function camelCase<K extends string>(key: K): CamelCase<K> {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()) as CamelCase<K>;
}

/** A strict mapping (unknown keys are errors) whose value has camelCase keys. */
export function section<S extends z.ZodRawShape>(shape: S) {
  const keys = Object.keys(shape);
  return z.strictObject(shape).transform((value) => {
    const out: Record<string, unknown> = {};
    const input = value as Record<string, unknown>;
    for (const key of keys) out[camelCase(key)] = input[key];
    return out as SectionOutput<S>;
  });
}
