/** `guards.sanity`: the checks of Kamailio's sanity module. */
import * as z from 'zod';
import { mode, uniqueList } from '../../config/fields.js';
import { section } from '../../config/section.js';

export const SANITY_CHECKS = [
  'required_headers',
  'request_uri',
  'via',
  'cseq',
  'content_length',
  'max_forwards',
  'expires',
  'proxy_require',
  'uris',
  'to_tag',
  'credentials',
] as const;
export type SanityCheck = (typeof SANITY_CHECKS)[number];

export const sanitySchema = section({
  mode: mode.default('enforce').meta({ description: 'As for `acl`.' }),
  checks: uniqueList(z.enum(SANITY_CHECKS, { error: `must be one of ${SANITY_CHECKS.join(', ')}` }))
    .default([...SANITY_CHECKS])
    .meta({
      type: 'list',
      default: 'all',
      description: `Which checks to make: ${SANITY_CHECKS.map((c) => `\`${c}\``).join(', ')} (see \`docs/guards.md\`).`,
    }),
})
  .prefault({})
  .meta({ description: "The checks of Kamailio's sanity module, answered as the RFC says." });

export type SanityConfig = z.output<typeof sanitySchema>;
