/**
 * The transports' state as registry metrics, read at scrape time:
 * - `sipwarden_connections{slot}`: open TCP/TLS connections counted against the outside's
 *   slots and against the slots reserved for upstream targets; `sipwarden_connections_open`: all;
 * - `sipwarden_transport_problems_total{problem}`: connections refused or closed and messages
 *   not sent, by cause.
 */
import { observedCounter, observedGauge, type Registry, type Sample } from '../core/metrics.js';
import type { TransportManager } from './manager.js';

/** `TransportManager.stats()` keys counted in `sipwarden_transport_problems_total`, by label. */
const PROBLEMS: Readonly<Record<string, string>> = {
  udpSendErrors: 'udp-send-error',
  unroutable: 'unroutable',
  rejectedConnections: 'connection-rejected',
  refusedOutbound: 'outbound-refused',
  unsentMessages: 'unsent',
  outputOverflows: 'output-overflow',
  tlsHandshakeTimeouts: 'tls-handshake-timeout',
  tlsErrors: 'tls-error',
  closedByBan: 'closed-by-ban',
  pingsUnanswered: 'ping-unanswered',
  framingErrors: 'framing-error',
};

export function observeTransports(registry: Registry, transports: TransportManager): void {
  observedGauge(registry, 'sipwarden_connections', 'Open TCP/TLS connections, by slot', ['slot'], () => [
    [{ slot: 'outside' }, transports.stream.outsideConnections],
    [{ slot: 'upstream' }, transports.stream.upstreamConnections],
  ]);
  observedGauge(registry, 'sipwarden_connections_open', 'Open TCP/TLS connections', [], () => [
    [{}, transports.stream.connectionCount],
  ]);
  observedCounter(
    registry,
    'sipwarden_transport_problems_total',
    'Connections refused or closed and messages not sent, by cause',
    ['problem'],
    () => {
      const stats = transports.stats();
      const out: Sample[] = [];
      for (const [key, problem] of Object.entries(PROBLEMS)) out.push([{ problem }, stats[key] ?? 0]);
      return out;
    },
  );
}
