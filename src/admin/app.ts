/**
 * The admin API as a fastify instance: authentication first (bearer token or dashboard
 * session, failures limited per client address), then the JSON endpoints of docs/admin.md,
 * `/api/events/stream` and `/metrics`. Every input (params, query, body) has a JSON schema.
 *
 * The dashboard adds its pages (`GET /`, `/login`, `/ui/*`) through `registerUi`, called after
 * the API's routes and before listening; a route it marks `config: { public: true }` is served
 * without credentials (the login form and static assets).
 */
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { parseDuration } from '../config/duration.js';
import { recordJson, recordsCsv, recordsJson } from '../honeypot/export.js';
import { parseCidr } from '../net/cidr.js';
import { ADMIN_GUARD, cleanReason } from '../store/reason.js';
import type { Ban } from '../store/types.js';
import { AuthFailures, checkBearer, checkSession, SESSION_COOKIE } from './auth.js';
import type { AdminContext } from './context.js';
import { BlockedSources, RecentEvents, SERIES_MINUTES, SERIES_STEP_MS, TrafficSeries } from './recent.js';
import { EventStream } from './stream.js';

/** Adds the dashboard's routes to the admin app (before it listens). */
export type RegisterUi = (app: FastifyInstance, ctx: AdminUiContext) => void;

/** What the dashboard's routes get besides the app. */
export interface AdminUiContext {
  readonly admin: AdminContext;
  /** The token in force (to check a login and sign session cookies). */
  readonly token: string;
  /** True when served over https (cookies get `Secure`). */
  readonly secure: boolean;
  /** The per-address limit on failed logins, shared with the API's. */
  readonly failures: AuthFailures;
}

export interface AdminAppOptions {
  token: string;
  /** TLS certificate and key (PEM) for https. */
  https?: { cert: Buffer; key: Buffer };
  registerUi?: RegisterUi;
  now?: () => number;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without credentials (the dashboard's login and assets). */
    public?: boolean;
  }
}

/** Longest ban the API adds (as the CLI). */
const MAX_BAN_MS = 365 * 86_400_000;
const UNAUTHORIZED = { error: 'unauthorized' } as const;

const limit = (max: number, fallback: number) => ({ type: 'integer', minimum: 1, maximum: max, default: fallback });

/** The app and what it keeps (the event ring, the series); `close` stops them with the app. */
export function createAdminApp(ctx: AdminContext, options: AdminAppOptions): FastifyInstance {
  const now = options.now ?? Date.now;
  const app = Fastify({
    logger: false,
    https: options.https ?? null,
    // An event stream or a kept-alive dashboard must not hold up stop or reload.
    forceCloseConnections: true,
    bodyLimit: 64 * 1024,
    return503OnClosing: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true } },
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;
  const failures = new AuthFailures();
  const recent = new RecentEvents(ctx.events);
  const sources = new BlockedSources(ctx.events);
  const series = new TrafficSeries(() => ctx.traffic(), now);
  const stream = new EventStream(recent);
  app.addHook('onClose', async () => {
    recent.stop();
    sources.stop();
    series.stop();
    stream.close();
  });

  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.config.public === true) return;
    const t = now();
    if (failures.blocked(request.ip, t)) {
      return reply.code(429).header('retry-after', '60').send({ error: 'too many failed attempts' });
    }
    if (authorized(request, options.token, t)) return;
    failures.fail(request.ip, t);
    return reply.code(401).header('www-authenticate', 'Bearer').send(UNAUTHORIZED);
  });
  app.setErrorHandler((err: { statusCode?: number; validation?: unknown; message: string }, _request, reply) => {
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    // Validation messages name the field and the rule, never the value sent.
    reply.code(status).send({ error: status === 500 ? 'internal error' : err.message });
  });
  app.setNotFoundHandler((_request, reply) => {
    reply.code(404).send({ error: 'not found' });
  });

  app.get('/api/status', { schema: { querystring: { type: 'object', additionalProperties: false } } }, async () => {
    const t = now();
    return {
      version: ctx.version,
      startedAt: iso(ctx.startedAt),
      uptimeSeconds: Math.floor((t - ctx.startedAt) / 1000),
      configFile: ctx.configFile ?? null,
      configLoadedAt: iso(ctx.configLoadedAt()),
      listeners: ctx.listeners(),
      node: process.version,
    };
  });

  app.get('/api/stats', { schema: { querystring: { type: 'object', additionalProperties: false } } }, async () =>
    ctx.stats(),
  );

  app.get('/api/upstreams', { schema: { querystring: { type: 'object', additionalProperties: false } } }, async () => ({
    upstreams: ctx.upstreams().map((u) => ({
      name: u.name,
      targets: u.targets.map((t) => ({
        ...t,
        lastPing: t.lastPing === null ? null : { ...t.lastPing, at: iso(t.lastPing.at) },
      })),
    })),
  }));

  registerBans(app, ctx, now);

  app.get<{ Querystring: { limit: number } }>(
    '/api/sources',
    {
      schema: { querystring: { type: 'object', additionalProperties: false, properties: { limit: limit(1000, 20) } } },
    },
    async (request) => ({
      sources: sources.top(request.query.limit).map((s) => ({ ...s, lastSeen: iso(s.lastSeen) })),
    }),
  );

  app.get<{ Querystring: { limit: number } }>(
    '/api/flood',
    {
      schema: { querystring: { type: 'object', additionalProperties: false, properties: { limit: limit(1000, 20) } } },
    },
    async (request) => ctx.flood(request.query.limit, now()) ?? { window: 0, sources: [] },
  );

  app.get<{ Querystring: { limit: number; kind?: string } }>(
    '/api/events',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { limit: limit(1000, 100), kind: { type: 'string', pattern: '^[a-z-]{1,32}$' } },
        },
      },
    },
    async (request) => ({ events: recent.list(request.query.limit, request.query.kind) }),
  );

  app.get(
    '/api/events/stream',
    { schema: { querystring: { type: 'object', additionalProperties: false } } },
    (request, reply) => {
      reply.hijack();
      const lastId = request.headers['last-event-id'];
      const missed = typeof lastId === 'string' ? recent.after(lastId) : [];
      if (!stream.add(reply.raw, missed)) {
        reply.raw
          .writeHead(503, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: 'too many streams' }));
      }
      request.raw.socket.setTimeout(0);
    },
  );

  registerAttacks(app, ctx);

  app.post(
    '/api/reload',
    { schema: { body: { type: 'object', additionalProperties: false, nullable: true } } },
    async (_request, reply) => {
      try {
        await ctx.reload();
        return { ok: true };
      } catch (err) {
        return reply.code(400).send({ ok: false, error: err instanceof Error ? err.message : String(err) });
      }
    },
  );

  app.get<{ Querystring: { minutes: number } }>(
    '/api/series',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { minutes: limit(SERIES_MINUTES, SERIES_MINUTES) },
        },
      },
    },
    async (request) => ({ step: SERIES_STEP_MS, points: series.points(request.query.minutes, now()) }),
  );

  app.get(
    '/metrics',
    { schema: { querystring: { type: 'object', additionalProperties: false } } },
    async (_request, reply) => {
      const text = await ctx.metrics.metrics();
      return reply.type(ctx.metrics.contentType).send(text);
    },
  );

  options.registerUi?.(app, { admin: ctx, token: options.token, secure: options.https !== undefined, failures });
  return app;
}

function registerBans(app: FastifyInstance, ctx: AdminContext, now: () => number): void {
  app.get<{ Querystring: { target?: string; guard?: string; limit: number } }>(
    '/api/bans',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            target: { type: 'string', maxLength: 64 },
            guard: { type: 'string', maxLength: 32 },
            limit: limit(100_000, 100),
          },
        },
      },
    },
    async (request) => {
      const { target, guard } = request.query;
      const all = ctx.bans
        .list(now())
        .filter(
          (b) => (target === undefined || b.target.includes(target)) && (guard === undefined || b.guard === guard),
        );
      return { total: all.length, bans: all.slice(0, request.query.limit).map(banJson) };
    },
  );

  app.post<{ Body: { target: string; duration: string | number; reason?: string } }>(
    '/api/bans',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['target', 'duration'],
          properties: {
            target: { type: 'string', minLength: 1, maxLength: 64 },
            duration: {
              anyOf: [
                { type: 'integer', minimum: 1000, maximum: MAX_BAN_MS },
                { type: 'string', maxLength: 16 },
              ],
            },
            reason: { type: 'string', maxLength: 1000 },
          },
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      let target: string;
      try {
        target = parseCidr(body.target).text;
      } catch {
        return reply.code(400).send({ error: 'target is not an address or network' });
      }
      const ms = typeof body.duration === 'number' ? body.duration : parseDuration(body.duration);
      if (ms === undefined || ms < 1000 || ms > MAX_BAN_MS) {
        return reply.code(400).send({ error: 'duration must be from 1s to 365d (e.g. "30m", "1h", or milliseconds)' });
      }
      const reason = cleanReason(body.reason ?? '') || 'banned by an operator';
      const t = now();
      const ban: Ban = { target, guard: ADMIN_GUARD, reason, created: t, expires: t + ms };
      ctx.bans.add(ban);
      const held = ctx.bans.list(t).find((b) => b.target === target) ?? ban;
      // The store reports only other processes' bans; an operator's ban here is news too.
      ctx.events.emit({ kind: 'ban', origin: 'external', time: t, ban: held });
      return reply.code(201).send({ ban: banJson(held) });
    },
  );

  app.delete<{ Params: { target: string } }>(
    '/api/bans/:target',
    {
      schema: {
        params: {
          type: 'object',
          additionalProperties: false,
          required: ['target'],
          properties: { target: { type: 'string', minLength: 1, maxLength: 64 } },
        },
      },
    },
    async (request, reply) => {
      let target: string;
      try {
        target = parseCidr(request.params.target).text;
      } catch {
        return reply.code(400).send({ error: 'target is not an address or network' });
      }
      if (!ctx.bans.remove(target)) return reply.code(404).send({ removed: false });
      return { removed: true };
    },
  );

  app.post(
    '/api/bans/flush',
    { schema: { body: { type: 'object', additionalProperties: false, nullable: true } } },
    async () => {
      return { count: ctx.bans.flush() };
    },
  );
}

function registerAttacks(app: FastifyInstance, ctx: AdminContext): void {
  app.get<{ Querystring: { limit: number; source?: string } }>(
    '/api/attacks',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { limit: limit(10_000, 50), source: { type: 'string', maxLength: 64 } },
        },
      },
    },
    async (request) => {
      const { source } = request.query;
      const records = (ctx.attacks() ?? [])
        .filter((r) => source === undefined || r.address === source)
        .sort((a, b) => b.lastSeen - a.lastSeen)
        .slice(0, request.query.limit);
      return { attacks: records.map(recordJson) };
    },
  );

  app.get<{ Querystring: { format: 'json' | 'csv' } }>(
    '/api/attacks/export',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { format: { type: 'string', enum: ['json', 'csv'], default: 'json' } },
        },
      },
    },
    async (request, reply) => {
      const records = ctx.attacks() ?? [];
      if (request.query.format === 'csv') {
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', 'attachment; filename="attacks.csv"')
          .send(recordsCsv(records));
      }
      return reply.type('application/json').send(recordsJson(records));
    },
  );
}

function authorized(request: FastifyRequest, token: string, now: number): boolean {
  if (request.headers.authorization !== undefined) return checkBearer(token, request.headers.authorization);
  const cookie = sessionCookie(request.headers.cookie);
  return cookie !== undefined && checkSession(token, cookie, now);
}

/** The `sipwarden_session` value of a Cookie header. */
export function sessionCookie(header: string | undefined): string | undefined {
  if (header === undefined || header.length > 8192) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function banJson(b: Ban): Record<string, unknown> {
  return { target: b.target, guard: b.guard, reason: b.reason, created: iso(b.created), expires: iso(b.expires) };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
