/**
 * Starts and stops the admin API's listener for the running sipwarden: the token (configured
 * or kept in the data directory), TLS when `admin.listen` is https, and the log line with the
 * URL (never the token).
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { type AdminAppOptions, createAdminApp, type RegisterUi } from './app.js';
import type { AdminConfig } from './config.js';
import type { AdminContext } from './context.js';
import { ensureAdminToken } from './token.js';

export class AdminListener {
  private constructor(
    private readonly app: FastifyInstance,
    /** `http://127.0.0.1:5080` as configured. */
    readonly url: string,
  ) {}

  /** Binds `config.listen`; rejects with a message naming the URL and the cause. */
  static async start(
    config: AdminConfig,
    dataDir: string,
    ctx: AdminContext,
    registerUi?: RegisterUi,
  ): Promise<AdminListener> {
    const options: AdminAppOptions = { token: ensureAdminToken(config.token, dataDir), registerUi };
    if (config.listen.tls) options.https = { cert: readFileSync(config.cert!), key: readFileSync(config.key!) };
    const app = createAdminApp(ctx, options);
    try {
      await app.listen({ host: config.listen.host, port: config.listen.port });
    } catch (err) {
      await app.close().catch(() => undefined);
      const e = err as NodeJS.ErrnoException;
      const why =
        e.code === 'EADDRINUSE' ? 'address already in use' : e.code === 'EACCES' ? 'permission denied' : e.message;
      throw new Error(`admin API cannot listen on ${config.listen.url}: ${why}`);
    }
    ctx.log.info({ event: 'admin-listening', url: config.listen.url }, `admin API on ${config.listen.url}`);
    return new AdminListener(app, config.listen.url);
  }

  async stop(): Promise<void> {
    await this.app.close();
  }
}
