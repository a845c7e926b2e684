/**
 * The `guards` section (the keys every guard shares, and each guard's own section from its
 * folder) and the top-level `sources`, which makes one source for every guard.
 */
import * as z from 'zod';
import { authSchema } from '../auth/config.js';
import { cidr, integer, oneOf, uniqueList } from '../config/fields.js';
import { section } from '../config/section.js';
import { aclSchema } from './acl/config.js';
import { bansSchema } from './bans/config.js';
import { bruteForceSchema } from './brute-force/config.js';
import { dialScanSchema } from './dial-scan/config.js';
import { floodSchema } from './flood/config.js';
import { fraudSchema } from './fraud/config.js';
import { GUARD_NAMES, type GuardName } from './names.js';
import { sanitySchema } from './sanity/config.js';
import { scannerSchema } from './scanner/config.js';

export type { GuardMode } from '../config/fields.js';
export type { GuardName } from './names.js';

/** The guards that run when `guards.chain` is not set (`auth` needs its users first). */
const DEFAULT_CHAIN: readonly GuardName[] = [
  'acl',
  'bans',
  'flood',
  'scanner',
  'sanity',
  'brute_force',
  'dial_scan',
  'fraud',
];

const replySchema = z
  .strictObject({
    code: integer(300, 699).meta({ description: 'Status code.' }),
    reason: z
      .string()
      .regex(/^[\x20-\x7e]{1,64}$/, { error: 'must be 1-64 printable ASCII characters' })
      .meta({ description: 'Reason phrase, 1–64 printable ASCII characters.' }),
  })
  .default({ code: 403, reason: 'Forbidden' })
  .meta({ description: 'The answer of every `reply` action. It never names sipwarden.' });

export type GuardReplyConfig = z.output<typeof replySchema>;

export const guardsSchema = section({
  chain: z
    .array(oneOf(GUARD_NAMES))
    .refine((list) => new Set(list).size === list.length, { error: 'lists a guard twice' })
    .default([...DEFAULT_CHAIN])
    .meta({
      type: 'list of guard names',
      description:
        "The guards that run, in order (source guards `acl`, `bans`, `flood` always before message guards). A guard left out does not run. `scanner` before `sanity`, so that an attack tool's malformed request is banned as a scanner rather than only answered 400.",
    }),
  reply: replySchema,
  replies_per_second: integer(0, 1_000_000).default(100).meta({
    description:
      'Answers to blocked requests per second, all sources together; beyond it they are dropped silently, so sipwarden cannot be used to reflect traffic.',
  }),
  never_ban: uniqueList(cidr).default([]).meta({
    type: 'list of networks or addresses',
    description:
      "Peers no guard ever bans: a listed peer is never put in the ban store, so never in the firewall's banned sets nor in a fail2ban line, and the honeypot never holds it; but a message of it that a guard blocks is still dropped or answered as usual, and logged with a note (`blocked; not banned`). A guard's network ban (an IPv6 /64) that holds a listed peer is narrowed to the offending address. For peers whose address can be forged (a carrier trunk over UDP): see [bans](guards/bans.md#spoofed-sources-and-never_ban). Bans added by `sipwarden bans add` are not affected.",
  }),
  acl: aclSchema,
  bans: bansSchema,
  flood: floodSchema,
  sanity: sanitySchema,
  scanner: scannerSchema,
  auth: authSchema,
  brute_force: bruteForceSchema,
  dial_scan: dialScanSchema,
  fraud: fraudSchema,
})
  .prefault({})
  .meta({
    description:
      'The security pipeline every message from an untrusted source passes (see [docs/guards](guards/README.md)). Trusted sources and upstream targets skip it.',
  });

export type GuardsConfig = z.output<typeof guardsSchema>;

export const sourcesSchema = section({
  ipv4_prefix: integer(8, 32).default(32).meta({
    description:
      'IPv4 sources are counted and banned by this prefix. `32`: each address. A lower value bans whole networks (`24`: a /24) and should be kept for networks hostile as a whole.',
  }),
  ipv6_prefix: integer(16, 128).default(64).meta({
    description:
      'IPv6 sources are counted and banned by this prefix: one subscriber (and so one attacker) holds at least a /64 and can rotate through its addresses, so the /64 is one source. Lower it (`56`, `48`) where providers hand a customer more; `128` counts each address (not advised). These were `guards.flood.ipv4_prefix`/`ipv6_prefix`, which are now errors naming the new place.',
  }),
})
  .prefault({})
  .meta({
    description:
      "What one source is, for every per-source counter, score, hold and ban: the flood counters, scanner scores, brute_force and dial_scan counts, the honeypot's holds, and the ban a guard makes (so an IPv6 ban covers the whole /64). One setting, so that all of them agree.",
  });

export type SourcesConfig = z.output<typeof sourcesSchema>;
