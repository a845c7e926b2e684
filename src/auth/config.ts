/** `guards.auth`: digest authentication at the edge. */
import * as z from 'zod';
import { describeValue, duration, fail, filePath, integer, MIN_SECRET_LENGTH, mode, oneOf } from '../config/fields.js';
import { section } from '../config/section.js';

export const AUTH_ALGORITHMS = ['sha-256', 'md5', 'sha-256-sess', 'md5-sess'] as const;
export type AuthAlgorithmName = (typeof AUTH_ALGORITHMS)[number];

/** Realm of the challenges for domains not in `realms` (and of `sipwarden users` without a config). */
export const DEFAULT_AUTH_REALM = 'sipwarden';

/** A digest realm: written inside a quoted string on the wire, so no quotes, backslashes or controls. */
const realmText = z
  .string()
  .regex(
    /^[\x21\x23-\x39\x3b-\x5b\x5d-\x7e]([\x20-\x21\x23-\x39\x3b-\x5b\x5d-\x7e]{0,126}[\x21\x23-\x39\x3b-\x5b\x5d-\x7e])?$/,
    {
      error: 'must be 1-128 printable ASCII characters without ", \\ or ":" (spaces inside only)',
    },
  );

/**
 * A username in `identity.aliases`: a digest username or the user part of a URI (after
 * %-decoding), as in the users file: no spaces, controls, ':', '"' or '\\'.
 */
const identityUser = z
  .string()
  .regex(/^[^\x00-\x20\x7f:"\\]{1,128}$/, { error: 'must be a username (no spaces, controls, ":", \'"\' or "\\")' });

const identitySchema = z
  .strictObject({
    check: z.boolean().default(true).meta({
      description:
        'The user of the To URI of a REGISTER, and of the From URI of other requests (%-decoded, case-sensitive), must be the authenticated digest username or one of its `aliases`; otherwise `403 Forbidden` (rule `identity`). An anonymous From (`anonymous.invalid`, RFC 3323) passes.',
    }),
    aliases: z.record(identityUser, z.array(identityUser)).default({}).meta({
      type: 'mapping of username to list of usernames',
      description:
        'Other URI users a digest username may claim, e.g. `{ alice: ["1001", alice.smith] }` (an extension number as well as the name). Names as in the users file: no spaces, controls, `:`, `"` or `\\`.',
    }),
  })
  .prefault({})
  .meta({
    description:
      "Whom an authenticated user may claim to be, like Kamailio's `auth_check` flag 1 ([edge-auth.md](edge-auth.md#identity)).",
  });

export const authSchema = section({
  mode: mode.default('enforce').meta({
    description:
      'As for `acl`. In `monitor` every request goes on; the outcomes and events show what would have been challenged.',
  }),
  realm: realmText.default(DEFAULT_AUTH_REALM).meta({
    type: 'text (1–128 printable ASCII, no `"`, `\\` or `:`)',
    description: 'Realm of the challenges, and of the users (`user:realm:HA1`), for domains not in `realms`.',
  }),
  realms: z
    .record(z.string().regex(/^[A-Za-z0-9.-]{1,253}$/, { error: 'must be a domain name' }), realmText)
    .default({})
    .transform((byDomain) => {
      const out: Record<string, string> = {};
      for (const [domain, realm] of Object.entries(byDomain)) out[domain.toLowerCase()] = realm;
      return out;
    })
    .meta({
      type: 'mapping of domain to realm',
      description:
        "Realm by the domain of the identity a request claims (case-insensitive): the host of the To URI for REGISTER, of the From URI for the rest; for several domains behind one sipwarden. Credentials of one domain's realm never vouch for an identity in another.",
    }),
  algorithms: z
    .array(oneOf(AUTH_ALGORITHMS))
    .min(1, { error: 'must list at least one algorithm' })
    .refine((list) => new Set(list).size === list.length, { error: 'lists an algorithm twice' })
    .default(['sha-256', 'md5'])
    .meta({
      type: `list of ${AUTH_ALGORITHMS.map((a) => `\`${a}\``).join(', ')}`,
      description: 'Algorithms offered, one challenge header each, in this order (RFC 8760: the strongest first).',
    }),
  methods: z
    .array(
      z
        .string()
        .regex(/^[A-Za-z]{1,32}$/, { error: 'must be a method name' })
        .refine((m) => m.toUpperCase() !== 'ACK' && m.toUpperCase() !== 'CANCEL', {
          error: 'ACK and CANCEL cannot be challenged',
        }),
    )
    .default(['REGISTER', 'INVITE', 'SUBSCRIBE', 'PUBLISH', 'MESSAGE', 'REFER'])
    .transform((list) => [...new Set(list.map((m) => m.toUpperCase()))])
    .meta({
      type: 'list of method names',
      description:
        'Methods challenged. ACK and CANCEL cannot be. OPTIONS is left out by default (keep-alives and qualify pings).',
    }),
  in_dialog: z.boolean().default(false).meta({
    description:
      'Also challenge requests inside a dialog (with a To tag). With `false`, an in-dialog request goes on unchallenged only when it belongs to a dialog sipwarden saw established, from the flow sipwarden record-routed it for; REGISTER and PUBLISH never do, and any other request with a To tag is challenged ([edge-auth.md](edge-auth.md#what-is-challenged)).',
  }),
  source: oneOf(['file', 'store'] as const)
    .default('file')
    .meta({
      description:
        "Where users come from: `users_file`, or the `users` table of the store's SQLite file (`sipwarden users`).",
    }),
  users_file: filePath.optional().meta({
    description:
      'Users file (`user:realm:HA1` lines), re-read on change. Required with `source: file` when the guard is in the chain.',
  }),
  nonce_lifetime: duration(1000)
    .default(300_000)
    .meta({ description: 'How long a nonce is valid; an older one with the right password gets `stale=true`.' }),
  secret: z
    .string()
    .refine((s) => s.length >= MIN_SECRET_LENGTH, {
      // Never quote the value: it is a secret.
      error: (issue) => `must be at least ${MIN_SECRET_LENGTH} characters long (got ${(issue.input as string).length})`,
    })
    .optional()
    .meta({
      type: `text, at least ${MIN_SECRET_LENGTH} characters`,
      description:
        'Key of the nonce MACs. Default: derived from the top-level `secret` (or `<data_dir>/secret`). Give instances that share clients the same one.',
    }),
  challenge: z
    .unknown()
    .transform((v, ctx): 'auto' | 401 | 407 => {
      if (v === undefined || v === 'auto') return 'auto';
      if (v === 401 || v === '401') return 401;
      if (v === 407 || v === '407') return 407;
      return fail(ctx, `must be 401, 407 or auto, got ${describeValue(v)}`);
    })
    .default('auto')
    .meta({
      type: '`401`, `407` or `auto`',
      description:
        'Status of challenges: `auto` is 401 (WWW-Authenticate) for REGISTER and 407 (Proxy-Authenticate) for the rest.',
    }),
  strip_credentials: z
    .boolean()
    .default(true)
    .meta({ description: "Remove the checked credentials (sipwarden's realm only) before forwarding." }),
  challenges_per_second: integer(0, 1_000_000).default(1000).meta({
    description:
      'Challenges sent per second (all sources together), a budget apart from `guards.replies_per_second`; beyond it they are dropped. 0: never challenge.',
  }),
  max_nonces: integer(100, 10_000_000).default(100_000).meta({
    description:
      'Nonces whose nonce-counts are tracked for replay protection. When full the oldest is evicted and nonces as old answered stale.',
  }),
  identity: identitySchema,
})
  .prefault({})
  .meta({
    description:
      'Digest authentication at the edge ([docs/edge-auth.md](edge-auth.md)). Not in the default chain: add `auth` to `guards.chain`, usually last.',
  });

export type AuthConfig = z.output<typeof authSchema>;
export type AuthIdentityConfig = AuthConfig['identity'];
