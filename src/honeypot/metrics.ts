/**
 * The honeypot's counters as registry metrics, read at scrape time (the honeypot keeps counting
 * in its plain `stats`):
 * - `sipwarden_honeypot_total{guard}`: messages handed to it, by the guard that sent them;
 * - `sipwarden_honeypot_messages_total{outcome}`: messages taken, by what became of them
 *   (`answered`, `forwarded`, `absorbed`, `rate-limited`, `malformed`);
 * - `sipwarden_honeypot_sent_messages_total`, `sipwarden_honeypot_sent_bytes_total`: what the
 *   responder sent;
 * - `sipwarden_honeypot_reflection_refused_total`: datagrams not sent because of the reflection bound.
 * Nothing is reported while no honeypot is open.
 */
import { observedCounter, type Registry, type Sample } from '../core/metrics.js';
import type { Honeypot, HoneypotStats } from './honeypot.js';

export function observeHoneypot(registry: Registry, honeypot: () => Honeypot | undefined): void {
  const stats = () => honeypot()?.stats;
  observedCounter(
    registry,
    'sipwarden_honeypot_total',
    'Messages handed to the honeypot, by the guard that sent them (held: a source already there)',
    ['guard'],
    () => [...(honeypot()?.byGuard ?? [])].map(([guard, n]): Sample => [{ guard }, n]),
  );
  const read = (pick: (s: HoneypotStats) => Sample[]) => () => {
    const s = stats();
    return s === undefined ? [] : pick(s);
  };
  observedCounter(
    registry,
    'sipwarden_honeypot_messages_total',
    'Messages the honeypot took, by outcome',
    ['outcome'],
    read((s) => [
      [{ outcome: 'answered' }, s.answered],
      [{ outcome: 'forwarded' }, s.forwarded],
      [{ outcome: 'absorbed' }, s.absorbed],
      [{ outcome: 'rate-limited' }, s.rateLimited],
      [{ outcome: 'malformed' }, s.malformed],
    ]),
  );
  observedCounter(
    registry,
    'sipwarden_honeypot_sent_messages_total',
    'Messages the honeypot responder sent',
    [],
    read((s) => [[{}, s.sent]]),
  );
  observedCounter(
    registry,
    'sipwarden_honeypot_sent_bytes_total',
    'Bytes the honeypot responder sent',
    [],
    read((s) => [[{}, s.bytesSent]]),
  );
  observedCounter(
    registry,
    'sipwarden_honeypot_reflection_refused_total',
    'Honeypot answers not sent because of the reflection bound',
    [],
    read((s) => [[{}, s.reflectionRefused]]),
  );
}
