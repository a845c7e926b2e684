/** `guards.fraud`: toll-fraud limits on new calls. */
import * as z from 'zod';
import { duration, integer, mode, uniqueList } from '../../config/fields.js';
import { section } from '../../config/section.js';

const warn = (description: string) => integer(0, 1_000_000).default(0).meta({ description });
const block = (description: string) => integer(0, 1_000_000).default(0).meta({ description });
const AS_FOR_CALLS_PER_MINUTE = 'As for `calls_per_minute`.';

/** A dialled-number prefix: digits, optionally after `+`, with `*` and `#`. */
const dialPrefix = z.string().regex(/^\+?[0-9*#]{1,32}$/, { error: 'must be digits, optionally after "+"' });

export const fraudSchema = section({
  mode: mode.default('enforce').meta({ description: 'As for `acl`.' }),
  calls_per_minute: z
    .strictObject({
      warn: warn('More calls than this within a minute raise an alert (`warn` log line, `event: alert`); `0`: off.'),
      block: block('More calls than this within a minute are answered 403 (an event, no ban); `0`: off.'),
    })
    .prefault({})
    .meta({ description: 'Calls one user may start per minute.' }),
  concurrent_calls: z
    .strictObject({ warn: warn(AS_FOR_CALLS_PER_MINUTE), block: block(AS_FOR_CALLS_PER_MINUTE) })
    .prefault({})
    .meta({
      description:
        'Calls one user may have up at once (each dialog a 2xx confirms, and each INVITE still waiting for its answer; a BYE the PBX accepts ends one). Transfers do not count here.',
    }),
  repeated_calls: z
    .strictObject({
      warn: warn(AS_FOR_CALLS_PER_MINUTE),
      block: block(AS_FOR_CALLS_PER_MINUTE),
      window: duration(1000).default(3_600_000).meta({ description: 'How long calls to a number count.' }),
    })
    .prefault({})
    .meta({ description: 'Calls one user may make to the same number within `window`.' }),
  max_call_duration: duration(60_000)
    .default(14_400_000)
    .meta({ description: 'A call not seen ending (its BYE lost) stops counting as up after this long.' }),
  deny_prefixes: uniqueList(dialPrefix).default([]).meta({
    type: 'list of dial prefixes',
    description:
      'Numbers (Request-URI user of an INVITE, `Refer-To` user of a REFER; `%`-escapes decoded as UTF-8, `-`, `.`, `(`, `)` and spaces removed) starting with one of these are answered 403, whoever calls, e.g. `["+882", "00882", "1900"]`. A number that does not decode is answered 403 too (rule `undecodable-number`) while any fraud rule is on.',
  }),
  allow_prefixes: uniqueList(dialPrefix).default([]).meta({
    type: 'list of dial prefixes',
    description:
      'When set, international numbers (starting with `+` or `00`) must start with one of these; others are answered 403.',
  }),
  max_users: integer(100, 100_000_000).default(100_000).meta({ description: 'Most users tracked at once.' }),
})
  .prefault({})
  .meta({
    description:
      "Toll-fraud limits on new calls: INVITEs outside a dialog and transfers (REFER) ([docs/guards/fraud.md](guards/fraud.md)). Per-user limits apply to the digest username of the request's credentials (for a REFER without them, the user whose call it transfers), counted per dialog, not per Call-ID; every limit is off until set.",
  });

export type FraudConfig = z.output<typeof fraudSchema>;
