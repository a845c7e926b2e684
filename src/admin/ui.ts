/**
 * The dashboard's routes on the admin app: the pages (`GET /`, `GET /login`), signing in and
 * out (`POST /login`, `POST /logout`) and the static files under `/ui/`. Every response here
 * carries the strict CSP and the other security headers (src/admin/ui-headers.ts).
 *
 * These routes are public to the API's credential check: the login form and the assets need
 * no session, and `GET /` answers a browser without one with a redirect to the login page
 * rather than a 401.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AdminUiContext, RegisterUi } from './app.js';
import { checkBearer, checkSession, makeSessionCookie, SESSION_COOKIE } from './auth.js';
import { type Asset, loadUiAssets, type UiAssets } from './ui-assets.js';
import { clearedSessionCookieHeader, readCookie, SECURITY_HEADERS, sessionCookieHeader } from './ui-headers.js';

const PUBLIC = { public: true } as const;
const MAX_TOKEN_LENGTH = 1024;

function send(reply: FastifyReply, asset: Asset): FastifyReply {
  return reply.header('content-type', asset.contentType).header('cache-control', 'no-cache').send(asset.body);
}

/** A form's fields (`token=...`), at most a few kilobytes. */
function parseForm(body: string): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(body));
}

/** `registerUi` for the admin app, with the files read once (from `ui/` unless told otherwise). */
export function dashboardRoutes(assets: UiAssets = loadUiAssets(), now: () => number = Date.now): RegisterUi {
  return (app: FastifyInstance, ui: AdminUiContext) => {
    app.register(async (scope) => routes(scope, ui, assets, now));
  };
}

function routes(app: FastifyInstance, ui: AdminUiContext, assets: UiAssets, now: () => number): void {
  const hasSession = (request: FastifyRequest) => {
    const cookie = readCookie(request.headers.cookie, SESSION_COOKIE);
    return cookie !== undefined && checkSession(ui.token, cookie, now());
  };

  app.addHook('onSend', async (_request, reply, payload) => {
    reply.headers(SECURITY_HEADERS);
    return payload;
  });
  // Only these routes take form posts; the API itself accepts JSON alone.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 4096 },
    (_r, body, done) => done(null, parseForm(body as string)),
  );

  app.get('/', { config: PUBLIC }, async (request, reply) => {
    if (!hasSession(request)) return reply.redirect('/login', 302);
    return send(reply, assets.dashboard);
  });

  app.get('/login', { config: PUBLIC }, async (request, reply) => {
    if (hasSession(request)) return reply.redirect('/', 302);
    return send(reply, assets.login);
  });

  app.post<{ Body: { token: string } }>(
    '/login',
    {
      config: PUBLIC,
      schema: {
        body: {
          type: 'object',
          required: ['token'],
          properties: { token: { type: 'string', maxLength: MAX_TOKEN_LENGTH } },
        },
      },
    },
    async (request, reply) => {
      const t = now();
      if (ui.failures.blocked(request.ip, t)) return reply.redirect('/login?limited', 303);
      // Compared as a bearer token: timing-safe, and no length leaks.
      if (!checkBearer(ui.token, `Bearer ${request.body.token.trim()}`)) {
        ui.failures.fail(request.ip, t);
        return reply.redirect('/login?failed', 303);
      }
      return reply
        .header('set-cookie', sessionCookieHeader(makeSessionCookie(ui.token, t), ui.secure))
        .redirect('/', 303);
    },
  );

  app.post('/logout', { config: PUBLIC }, async (_request, reply) =>
    reply.header('set-cookie', clearedSessionCookieHeader(ui.secure)).redirect('/login', 303),
  );

  app.get<{ Params: { '*': string } }>('/ui/*', { config: PUBLIC }, async (request, reply) => {
    const asset = assets.files.get(request.params['*']);
    if (asset === undefined) return reply.code(404).send({ error: 'not found' });
    return send(reply, asset);
  });
}
