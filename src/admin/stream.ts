/**
 * Server-Sent Events of the bus (`GET /api/events/stream`). An event is serialised once and
 * written to every client's socket; the bus listener never waits for a client. A client that
 * does not read (its socket's unsent output past `MAX_PENDING_BYTES`) is disconnected, so a
 * slow dashboard costs bounded memory and nothing on the SIP path. Each event carries its id:
 * a client that reconnects with `Last-Event-ID` (browsers do) first gets what it missed, as
 * far as the recent events reach.
 */
import type { ServerResponse } from 'node:http';
import type { NumberedEvent, RecentEvents } from './recent.js';

/** Unsent output a client may have before it is dropped. */
export const MAX_PENDING_BYTES = 256 * 1024;
/** Most clients at once; more are refused (503). */
export const MAX_STREAM_CLIENTS = 32;
export const PING_INTERVAL_MS = 15_000;
/**
 * Most bytes of missed events written to a reconnecting client (the newest of them): half of
 * what a client may leave unread, so that the replay alone never gets it dropped.
 */
export const MAX_REPLAY_BYTES = MAX_PENDING_BYTES / 2;

export class EventStream {
  private readonly clients = new Set<ServerResponse>();
  private readonly unsubscribe: () => void;
  private readonly ping: NodeJS.Timeout;

  constructor(events: RecentEvents) {
    this.unsubscribe = events.subscribe((e) => this.broadcast(e));
    this.ping = setInterval(() => this.write(': ping\n\n'), PING_INTERVAL_MS);
    this.ping.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /**
   * Takes over `res` as an event stream, first writing `missed` (the events after the client's
   * `Last-Event-ID`, the newest of them within MAX_REPLAY_BYTES); false when there are too many
   * clients already.
   */
  add(res: ServerResponse, missed: readonly NumberedEvent[] = []): boolean {
    if (this.clients.size >= MAX_STREAM_CLIENTS) return false;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      connection: 'keep-alive',
    });
    res.write(': connected\n\n');
    for (const f of newestFrames(missed, MAX_REPLAY_BYTES)) res.write(f);
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
    return true;
  }

  private broadcast(e: NumberedEvent): void {
    if (this.clients.size === 0) return;
    this.write(frame(e));
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

/** One SSE frame. The id and kind are sipwarden's own; the data is JSON (no raw newline can end it early). */
function frame(e: NumberedEvent): string {
  return `id: ${e.id}\nevent: ${e.event.kind}\ndata: ${JSON.stringify(e.event)}\n\n`;
}

/** The frames of the newest `events` whose total length stays within `budget`, oldest first. */
function newestFrames(events: readonly NumberedEvent[], budget: number): string[] {
  const frames: string[] = [];
  for (let i = events.length - 1; i >= 0; i--) {
    const f = frame(events[i]!);
    budget -= Buffer.byteLength(f);
    if (budget < 0) break;
    frames.push(f);
  }
  return frames.reverse();
}
