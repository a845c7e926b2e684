/**
 * What a webhook receives: an event of the bus turned into a plain record (every string
 * bounded, control and formatting characters escaped), then into the body of one format.
 */
import type { SipwardenEvent } from '../core/events.js';
import { sanitize } from '../log/sanitize.js';
import type { AlertEventName, WebhookFormat } from './config.js';

/** Longest value of one field; attacker text (a guard's detail) is cut there. */
const FIELD_MAX = 200;

/** One event as webhooks see it. */
export interface Alert {
  readonly event: AlertEventName;
  /** ISO 8601. */
  readonly time: string;
  /** One line, sipwarden's words with the event's checked fields. */
  readonly summary: string;
  readonly fields: Readonly<Record<string, string | number | boolean>>;
}

/** The webhook event name of a bus event; undefined for what is never sent (guard blocks). */
export function alertName(e: SipwardenEvent): AlertEventName | undefined {
  if (e.kind === 'block') return undefined;
  if (e.kind === 'upstream') return e.state === 'down' ? 'upstream-down' : 'upstream-up';
  return e.kind;
}

const clean = (text: string): string => sanitize(String(text), FIELD_MAX);

/** The alert for an event that `alertName` names. */
export function toAlert(e: SipwardenEvent): Alert | undefined {
  const event = alertName(e);
  if (event === undefined) return undefined;
  const time = new Date(e.time).toISOString();
  const of = (summary: string, fields: Record<string, string | number | boolean>): Alert => {
    const bounded: Record<string, string | number | boolean> = {};
    for (const [k, v] of Object.entries(fields)) bounded[k] = typeof v === 'string' ? clean(v) : v;
    return { event, time, summary: clean(summary), fields: bounded };
  };
  switch (e.kind) {
    case 'ban': {
      if (e.origin === 'external') {
        const b = e.ban;
        return of(`${b.target} banned by ${b.guard} until ${new Date(b.expires).toISOString()}`, {
          target: b.target,
          guard: b.guard,
          reason: b.reason,
          until: new Date(b.expires).toISOString(),
        });
      }
      const until = new Date(e.ban.until).toISOString();
      const verb = e.monitor ? 'would have banned' : 'banned';
      return of(`${e.guard} ${verb} ${e.ban.target} (rule ${e.rule}) until ${until}`, {
        target: e.ban.target,
        source: e.source.address,
        port: e.source.port,
        transport: e.source.transport,
        guard: e.guard,
        rule: e.rule,
        reason: e.ban.reason,
        until,
        monitor: e.monitor,
        detail: e.detail,
        ...(e.method === undefined ? {} : { method: e.method }),
        ...(e.note === undefined ? {} : { note: e.note }),
      });
    }
    case 'unban':
      return of(`ban of ${e.target} lifted`, { target: e.target, origin: e.origin });
    case 'ban-expired':
      return of(`ban of ${e.ban.target} expired`, { target: e.ban.target, guard: e.ban.guard });
    case 'bans-flushed':
      return of(`${e.count} bans flushed`, { count: e.count, origin: e.origin });
    case 'alert':
      return of(`${e.guard}: ${e.message}`, { guard: e.guard, rule: e.rule, message: e.message, ...e.fields });
    case 'honeypot':
      return of(`${e.source.address} entered the honeypot`, {
        source: e.source.address,
        port: e.source.port,
        transport: e.source.transport,
        guard: e.guard,
        rule: e.rule,
      });
    case 'upstream':
      return e.state === 'down'
        ? of(`upstream ${e.upstream} target ${e.target} is down: ${e.why}`, {
            upstream: e.upstream,
            target: e.target,
            why: e.why,
          })
        : of(`upstream ${e.upstream} target ${e.target} is back`, { upstream: e.upstream, target: e.target });
    default:
      return undefined;
  }
}

/** `<`, `>` and `&` have meaning in Slack and Teams text (`<!channel>`, links): write them as entities. */
function chatText(text: string): string {
  return text.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}

/** The JSON body of one POST. `dropped`: events this webhook lost to a full queue since the last POST. */
export function renderBody(format: WebhookFormat, alert: Alert, dropped: number): string {
  const lost = dropped > 0 ? ` (${dropped} earlier events dropped: queue full)` : '';
  switch (format) {
    case 'slack':
      return JSON.stringify({ text: chatText(`sipwarden: ${alert.summary}${lost}`) });
    case 'teams':
      return JSON.stringify({
        '@type': 'MessageCard',
        '@context': 'https://schema.org/extensions',
        summary: chatText(`sipwarden ${alert.event}`),
        themeColor: alert.event === 'upstream-up' || alert.event === 'unban' ? '2EB886' : 'D00000',
        title: chatText(`sipwarden: ${alert.event}`),
        text: chatText(`${alert.summary}${lost}`),
        sections: [
          {
            facts: Object.entries(alert.fields).map(([name, value]) => ({ name, value: chatText(String(value)) })),
          },
        ],
      });
    default:
      return JSON.stringify({ source: 'sipwarden', ...alert, ...(dropped > 0 ? { dropped } : {}) });
  }
}
