/** `honeypot`: plausible answers for the sources a guard flags `honeypot`. */
import * as z from 'zod';
import { duration, endpoint, integer } from '../config/fields.js';
import { section } from '../config/section.js';

/** Where flagged requests go instead of the built-in responder: udp:// or tcp:// and an IP address. */
const forward = endpoint({ requireIp: true }).superRefine((ep, ctx) => {
  if (ep.transport === 'tls') ctx.addIssue({ code: 'custom', message: 'must be a udp:// or tcp:// URL' });
});

export const honeypotSchema = section({
  enabled: z.boolean().default(true).meta({
    description:
      'Hand sources flagged `honeypot` (a scanner signal or `guards.bans.action: honeypot`) to the honeypot; `false` drops them instead. On by default because no default action is `honeypot`: nothing goes there until an operator picks that action.',
  }),
  server: z
    .string()
    .regex(/^[\x20-\x7e]{1,100}$/, { error: 'must be 1-100 printable ASCII characters (or "none")' })
    .default('Asterisk PBX 18.20.0')
    .transform((text): string | undefined => (text.toLowerCase() === 'none' ? undefined : text))
    .meta({
      type: 'text or `none`',
      description:
        "Server header of the built-in responder's answers (1–100 printable ASCII characters); `none` sends none.",
    }),
  realm: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'must be 1-64 letters, digits, ".", "_" or "-"' })
    .default('asterisk')
    .meta({ type: 'name', description: 'Digest realm of its REGISTER challenges.' }),
  call_duration: duration(0).default(0).meta({
    description:
      "After the caller's ACK, end the call with the honeypot's own BYE this much later; `0`: never (the caller hangs up).",
  }),
  amplification_factor: integer(1, 100).default(3).meta({
    description:
      'Over UDP, bytes sent to an address that never completed a transaction stay below this many times the bytes received from it, so a spoofed source cannot turn the honeypot into a reflector.',
  }),
  replies_per_second: integer(1, 1_000_000).default(20).meta({
    description:
      'Requests answered per second per source (token bucket, burst of the same size); the honeypot also answers at most `guards.replies_per_second` requests a second in total.',
  }),
  max_records: integer(1, 10_000_000)
    .default(10_000)
    .meta({ description: 'Most attack records (one per source address) kept; the oldest last-seen goes first.' }),
  forward: forward.optional().meta({
    type: '`udp://` or `tcp://` URL',
    default: 'none',
    description:
      'Send flagged requests to this external honeypot (an IP address) instead of answering them; its responses go back to the attacker through sipwarden.',
  }),
})
  .prefault({})
  .meta({
    description:
      'The honeypot: sources a guard flags `honeypot` get plausible answers instead of a block ([docs/honeypot.md](honeypot.md)).',
  });

export type HoneypotConfig = z.output<typeof honeypotSchema>;
