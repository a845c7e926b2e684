/**
 * The configuration file's schema, composed of the sections their owners define (each in its
 * own folder's `config.ts`: `src/guards/flood/config.ts`, `src/honeypot/config.ts` ...).
 *
 * Parsing yields the `Config` the code reads: camelCase keys, defaults filled in, durations in
 * milliseconds, paths absolute. Checks that relate several fields (unique names, files on
 * disk, cross-references) are in `loader.ts`. `docs/configuration.md`'s reference tables are
 * rendered from this schema (`npm run docs:config`; `reference.ts`).
 */
import { resolve } from 'node:path';
import type * as z from 'zod';
import { adminSchema } from '../admin/config.js';
import { alertsSchema } from '../alerts/config.js';
import { firewallSchema } from '../firewall/config.js';
import { guardsSchema, sourcesSchema } from '../guards/config.js';
import { honeypotSchema } from '../honeypot/config.js';
import { logSchema } from '../log/config.js';
import { storeSchema } from '../store/config.js';
import { topologySchema } from '../topology/config.js';
import { dataDirSchema, limitsSchema, proxyShape, repliesSchema, secretSchema, tcpSchema } from './proxy-config.js';
import { section } from './section.js';

export const configSchema = section({
  ...proxyShape,
  sources: sourcesSchema,
  limits: limitsSchema,
  tcp: tcpSchema,
  replies: repliesSchema,
  secret: secretSchema,
  data_dir: dataDirSchema,
  log: logSchema,
  guards: guardsSchema,
  honeypot: honeypotSchema,
  store: storeSchema,
  firewall: firewallSchema,
  topology: topologySchema,
  admin: adminSchema,
  alerts: alertsSchema,
}).transform((config) => ({
  ...config,
  // Settings whose default or meaning comes from another section.
  defaultUpstream: config.defaultUpstream ?? config.upstreams[0]!.name,
  store: { ...config.store, path: resolve(config.dataDir, config.store.path) },
}));

/** The normalised configuration: camelCase, defaults filled in, durations in milliseconds, deeply frozen. */
export type Config = z.output<typeof configSchema>;

// ---- introspection (did-you-mean for unknown keys; the reference in the docs) ----

/** The parts of a zod schema's definition the walks below read. */
export interface Walkable {
  _zod: {
    def: {
      type: string;
      shape?: Record<string, Walkable>;
      element?: Walkable;
      options?: Walkable[];
      innerType?: Walkable;
      in?: Walkable;
      defaultValue?: unknown;
    };
  };
}

/**
 * The wrappers of a schema, outside in (default, optional, pipes of transforms), down to the
 * schema that reads the value, which comes last.
 */
export function layersOf(schema: Walkable): Walkable[] {
  const layers = [schema];
  for (;;) {
    const def = schema._zod.def;
    if (def.innerType) schema = def.innerType;
    else if (def.type === 'pipe' && def.in) schema = def.in;
    else return layers;
    layers.push(schema);
  }
}

const unwrap = (schema: Walkable): Walkable => layersOf(schema).at(-1)!;

/** Object schemas reachable at `path` (several through unions). */
function objectsAt(schema: Walkable, path: readonly PropertyKey[]): Walkable[] {
  const s = unwrap(schema);
  const def = s._zod.def;
  if (def.type === 'union') return def.options!.flatMap((o) => objectsAt(o, path));
  if (path.length === 0) return def.type === 'object' ? [s] : [];
  const [head, ...rest] = path;
  if (def.type === 'object' && typeof head === 'string' && def.shape![head]) return objectsAt(def.shape![head]!, rest);
  if (def.type === 'array' && typeof head === 'number') return objectsAt(def.element!, rest);
  return [];
}

/** The keys the schema allows in the mapping at `path` (e.g. `['upstreams', 0, 'ping']`). */
export function allowedKeysAt(path: readonly PropertyKey[]): string[] {
  const keys = new Set<string>();
  for (const o of objectsAt(configSchema as unknown as Walkable, path)) {
    for (const k of Object.keys(o._zod.def.shape!)) keys.add(k);
  }
  return [...keys];
}

/**
 * Every key of the schema with its documentation path (`listen`, `listen[].url`,
 * `upstreams[].ping.interval`, `tcp.idle_timeout` ...), in schema order.
 */
export function schemaKeys(): { path: string; schema: Walkable }[] {
  const out: { path: string; schema: Walkable }[] = [];
  const walk = (schema: Walkable, prefix: string) => {
    const s = unwrap(schema);
    const def = s._zod.def;
    if (def.type === 'union') for (const o of def.options!) walk(o, prefix);
    else if (def.type === 'array') walk(def.element!, `${prefix}[]`);
    else if (def.type === 'object') {
      for (const [k, v] of Object.entries(def.shape!)) {
        const p = prefix ? `${prefix}.${k}` : k;
        if (!out.some((o) => o.path === p)) out.push({ path: p, schema: v });
        walk(v, p);
      }
    }
  };
  walk(configSchema as unknown as Walkable, '');
  return out;
}

export function schemaKeyPaths(): string[] {
  return schemaKeys().map((k) => k.path);
}
