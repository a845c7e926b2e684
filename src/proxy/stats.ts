/** Counters of what the proxy did with every message; read by logs and metrics. */
export class ProxyStats {
  requestsReceived = 0;
  responsesReceived = 0;
  requestsForwarded = 0;
  responsesForwarded = 0;
  /** Replies sipwarden generated, by status code. */
  readonly replies = new Map<number, number>();
  /** Messages not forwarded, by reason (malformed-response, not-our-via, no-route...). */
  readonly dropped = new Map<string, number>();
  /** Messages a guard stopped, by guard. */
  readonly blocked = new Map<string, number>();
  /** Parse errors by error code. */
  readonly malformed = new Map<string, number>();
  keepAlives = 0;

  count(map: Map<string, number> | Map<number, number>, key: string | number): void {
    const m = map as Map<string | number, number>;
    m.set(key, (m.get(key) ?? 0) + 1);
  }

  toJSON(): Record<string, unknown> {
    return {
      requestsReceived: this.requestsReceived,
      responsesReceived: this.responsesReceived,
      requestsForwarded: this.requestsForwarded,
      responsesForwarded: this.responsesForwarded,
      keepAlives: this.keepAlives,
      replies: Object.fromEntries(this.replies),
      dropped: Object.fromEntries(this.dropped),
      blocked: Object.fromEntries(this.blocked),
      malformed: Object.fromEntries(this.malformed),
    };
  }
}
