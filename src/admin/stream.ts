/**
 * Server-Sent Events of the bus (`GET /api/events/stream`). An event is serialised once and
 * written to every client's socket; the bus listener never waits for a client. A client that
 * does not read (its socket's unsent output past `MAX_PENDING_BYTES`) is disconnected, so a
 * slow dashboard costs bounded memory and nothing on the SIP path.
 */
import type { ServerResponse } from 'node:http';
import type { EventBus, SipwardenEvent } from '../core/events.js';

/** Unsent output a client may have before it is dropped. */
export const MAX_PENDING_BYTES = 256 * 1024;
/** Most clients at once; more are refused (503). */
export const MAX_STREAM_CLIENTS = 32;
export const PING_INTERVAL_MS = 15_000;

export class EventStream {
  private readonly clients = new Set<ServerResponse>();
  private readonly unsubscribe: () => void;
  private readonly ping: NodeJS.Timeout;

  constructor(events: EventBus) {
    this.unsubscribe = events.subscribe((e) => this.broadcast(e));
    this.ping = setInterval(() => this.write(': ping\n\n'), PING_INTERVAL_MS);
    this.ping.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /** Takes over `res` as an event stream; false when there are too many clients already. */
  add(res: ServerResponse): boolean {
    if (this.clients.size >= MAX_STREAM_CLIENTS) return false;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      connection: 'keep-alive',
    });
    res.write(': connected\n\n');
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
    return true;
  }

  private broadcast(e: SipwardenEvent): void {
    if (this.clients.size === 0) return;
    // The kind is one of the bus's own names; the data is JSON (no raw newline can end it early).
    this.write(`event: ${e.kind}\ndata: ${JSON.stringify(e)}\n\n`);
  }

  private write(text: string): void {
    for (const res of this.clients) {
      if (res.writableLength > MAX_PENDING_BYTES) {
        this.clients.delete(res);
        res.destroy();
        continue;
      }
      res.write(text);
    }
  }

  close(): void {
    this.unsubscribe();
    clearInterval(this.ping);
    for (const res of this.clients) res.destroy();
    this.clients.clear();
  }
}
