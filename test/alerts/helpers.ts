import { createServer, type Server } from 'node:http';

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
