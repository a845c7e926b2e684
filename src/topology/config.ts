/** `topology`: topology hiding and header hygiene. */
import * as z from 'zod';
import { checked, describeValue, fail, nonEmpty, oneOf, uniqueList } from '../config/fields.js';
import { section } from '../config/section.js';
import { bannerTextError, compileHygiene } from './hygiene.js';
import { parseTopologyKey } from './keys.js';

/** A topology key: 32 bytes written as 64 hex digits or base64 (standard or url-safe); kept as hex. */
const topologyKey = z
  .string()
  .transform((text, ctx): string => {
    const key = parseTopologyKey(text);
    // Never quote the value: it is a secret.
    if (key === undefined) return fail(ctx, 'must be 32 bytes written as 64 hex digits or base64');
    return key.toString('hex');
  })
  .meta({ type: '64 hex digits or base64 of 32 bytes' });

/** A point in time: an ISO 8601 date or date-time (YAML may already have made it a Date). */
const timestamp = z.unknown().transform((value, ctx): number => {
  if (value === undefined) return fail(ctx, 'required');
  const ms = value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms))
    return fail(ctx, `${describeValue(value)} is not a date (e.g. 2026-12-31 or 2026-12-31T12:00:00Z)`);
  return ms;
});

/** Server / User-Agent rule: keep, remove, or `{ replace: text }`. */
const banner = (description: string, replaced: string) =>
  z
    .union([
      oneOf(['keep', 'remove'] as const),
      z.strictObject({
        replace: z
          .string()
          .superRefine((text, ctx) => {
            const problem = bannerTextError(text);
            if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
          })
          .meta({ description: replaced }),
      }),
    ])
    .meta({ type: '`keep`, `remove` or `{ replace: text }`', description });

/** A header name, or a prefix written `Name-*`, that hygiene may remove (the message needs some). */
const headerPattern = checked(
  z.string().regex(/^[A-Za-z0-9!%'+._`~-]+\*?$/, { error: 'must be a header name, or a prefix such as X-*' }),
  (name, ctx) => {
    try {
      compileHygiene({
        server: 'keep',
        userAgent: 'keep',
        remove: [name],
        stripAssertedIdentityFromUntrusted: false,
        internalHosts: [],
      });
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(/^hygiene: /, '') });
    }
  },
);

const removeList = (description: string) =>
  uniqueList(headerPattern).default([]).meta({ type: 'list of header names', description });

export const topologySchema = section({
  hide: z.boolean().default(true).meta({
    description:
      "Replace the inside's Via entries, Record-Route entries, Contact and (with `call_id`) Call-ID by authenticated tokens on messages to the outside, and restore them on the way back.",
  }),
  key: topologyKey.optional().meta({
    default: 'kept in `data_dir`',
    description:
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the text is about ${...} in YAML
      "The token key; use `${SIPWARDEN_...}`. Instances that restore each other's tokens need the same key. Without it, one is made on first start and kept in `<data_dir>/topology.key`.",
  }),
  previous_keys: z
    .array(
      z.strictObject({
        key: topologyKey.meta({ description: 'The earlier key.' }),
        until: timestamp.meta({
          type: 'date',
          description:
            'When its tokens stop opening (ISO 8601, e.g. `2026-12-31T00:00:00Z`); make it outlast the longest dialog and registration.',
        }),
      }),
    )
    .default([])
    .meta({ description: 'Earlier keys that still open tokens for a while after a rotation.' }),
  call_id: z
    .boolean()
    .default(true)
    .meta({ description: "Hide Call-IDs made on the inside too (a PBX's Call-ID often holds its address)." }),
  internal_hosts: uniqueList(nonEmpty).default([]).meta({
    type: 'list of hosts',
    description:
      'Hostnames and addresses of the inside besides the upstream targets: Warning headers naming them are removed.',
  }),
  out: section({
    server: banner(
      "The `Server` banner of the PBX's responses. The text is one printable line of at most 128 characters.",
      'The banner written instead.',
    ).default('remove'),
    user_agent: banner("The `User-Agent` banner of the PBX's requests.", 'The banner written instead.').default(
      'remove',
    ),
    remove: removeList(
      'Headers removed from messages going out; `X-*` is a prefix. Via, From, To, Call-ID, CSeq, Max-Forwards, Content-Length, Content-Type, Contact, Route and Record-Route cannot be named.',
    ),
  })
    .prefault({})
    .meta({ description: 'Header hygiene of messages going to the outside.' }),
  in: section({
    server: banner("The `Server` header of the outside's responses.", 'The text written instead.').default('keep'),
    user_agent: banner("The `User-Agent` header of the outside's requests.", 'The text written instead.').default(
      'keep',
    ),
    remove: removeList('Headers removed from messages going in, so the outside cannot set headers the PBX trusts.'),
    strip_asserted_identity: z.boolean().default(true).meta({
      description:
        'Remove `P-Asserted-Identity` and `P-Preferred-Identity` from the outside (RFC 3325: only a trust domain may assert identities; list carriers whose assertions you need in `trusted`).',
    }),
  })
    .prefault({})
    .meta({ description: 'Header hygiene of messages going to the inside.' }),
})
  .prefault({})
  .meta({ description: 'Topology hiding and header hygiene ([docs/topology.md](topology.md)).' });

export type TopologyConfig = z.output<typeof topologySchema>;
