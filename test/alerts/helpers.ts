import { createServer, type Server } from 'node:http';
import type { WebhookConfig } from '../../src/alerts/config.js';
import type { SipwardenEvent } from '../../src/core/events.js';

/** A logger that says nothing. */
export const silent = { debug: () => {}, warn: () => {} };

/** A webhook's configuration: every event, no rate limit, quick retries. */
export function webhook(url: string, over: Partial<WebhookConfig> = {}): WebhookConfig {
  return {
    url,
    format: 'json',
    events: ['ban', 'alert', 'upstream-down', 'upstream-up'],
    minInterval: 0,
    maxQueue: 100,
    timeout: 1_000,
    retries: 5,
    retryDelay: 100,
    ...over,
  };
}

/** A scanner ban of `address`. */
export function ban(address: string, detail = ''): SipwardenEvent {
  const time = Date.now();
  return {
    kind: 'ban',
    origin: 'guard',
    action: 'ban',
    time,
    source: { transport: 'udp', address, port: 5060, family: 4 },
    guard: 'scanner',
    rule: 'user-agent',
    monitor: false,
    detail,
    ban: { target: address, until: time + 300_000, reason: 'scanner' },
  };
}

export interface Received {
  /** Epoch ms of arrival. */
  at: number;
  path: string;
  body: unknown;
}

/** A local webhook receiver: records every POST and answers `status` (200 unless changed). */
export class Receiver {
  readonly posts: Received[] = [];
  status = 200;
  private server: Server | undefined;

  constructor(
    readonly host: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `http://${this.host}:${this.port}/hook/secret-token`;
  }

  start(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          body = undefined;
        }
        this.posts.push({ at: Date.now(), path: req.url ?? '', body });
        res.writeHead(this.status).end();
      });
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => resolve());
    });
  }

  stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}
