/** `alerts`: where sipwarden reports bans, alerts and upstream changes as they happen. */
import * as z from 'zod';
import { duration, fail, integer, oneOf, uniqueList } from '../config/fields.js';
import { section } from '../config/section.js';

/** What a webhook may subscribe to: the bus's events, an upstream change split by direction. */
export const ALERT_EVENTS = [
  'ban',
  'unban',
  'ban-expired',
  'bans-flushed',
  'alert',
  'honeypot',
  'upstream-down',
  'upstream-up',
] as const;
export type AlertEventName = (typeof ALERT_EVENTS)[number];

export const WEBHOOK_FORMATS = ['json', 'slack', 'teams'] as const;
export type WebhookFormat = (typeof WEBHOOK_FORMATS)[number];

/**
 * An http:// or https:// URL. The URL of a chat webhook is its credential: error messages never
 * quote it, and logs name only its origin.
 */
const webhookUrl = z
  .string()
  .transform((text, ctx): string => {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return fail(ctx, 'is not a URL (write http://host[:port]/path or https://...)');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return fail(ctx, 'must be an http:// or https:// URL');
    return url.href;
  })
  .meta({ type: 'URL' });

const webhookSchema = section({
  url: webhookUrl.meta({
    description:
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the configuration file's substitution syntax
      'Where to POST. Chat webhook URLs are credentials: write `${SIPWARDEN_...}` to keep it out of the file; logs show only its scheme, host and port.',
  }),
  format: oneOf(WEBHOOK_FORMATS).default('json').meta({
    description:
      'Body of each POST: `json` (one event as a JSON object), `slack` (`{"text": ...}`, Slack and Mattermost incoming webhooks), `teams` (an Office 365 connector MessageCard, which also carries `text`).',
  }),
  events: uniqueList(oneOf(ALERT_EVENTS))
    .default(['ban', 'alert', 'upstream-down', 'upstream-up'])
    .meta({
      type: 'list of event names',
      description: `Events sent: ${ALERT_EVENTS.map((e) => `\`${e}\``).join(', ')}. Bans in monitor mode (what would have been banned) are sent as bans marked \`monitor\`.`,
    }),
  min_interval: duration(0).default(1_000).meta({
    description:
      'Least time between two POSTs to this webhook; events arriving faster wait in the queue. `0`: no limit.',
  }),
  max_queue: integer(1, 100_000).default(1_000).meta({
    description:
      'Most events waiting for this webhook (while it is down or rate limited); further events are dropped and counted, and the next POST says how many.',
  }),
  timeout: duration(100).default(5_000).meta({ description: 'Time one POST may take before it counts as failed.' }),
  retries: integer(0, 20).default(5).meta({
    description:
      'Further attempts after a failed POST (no answer, timeout, `429` or `5xx`), waiting `retry_delay`, then twice as long each time (at most 5m). Other `4xx` answers are not retried.',
  }),
  retry_delay: duration(10).default(1_000).meta({ description: 'Wait before the first retry.' }),
});

export const alertsSchema = section({
  webhooks: z.array(webhookSchema).max(20, { error: 'at most 20 webhooks' }).default([]).meta({
    description:
      'HTTP endpoints told of events as they happen. Sending never holds up a SIP message: each webhook has its own queue, rate limit and retries ([docs/alerts.md](alerts.md)).',
  }),
})
  .prefault({})
  .meta({ description: 'Webhook alerts ([docs/alerts.md](alerts.md)).' });

export type AlertsConfig = z.output<typeof alertsSchema>;
export type WebhookConfig = AlertsConfig['webhooks'][number];
