/** `guards.bans`: timed bans, kept in the store. */
import type * as z from 'zod';
import { duration, integer, mode, oneOf } from '../../config/fields.js';
import { section } from '../../config/section.js';

export const bansSchema = section({
  mode: mode
    .default('enforce')
    .meta({ description: 'As for `acl`. With `off`, bans are still recorded but not enforced.' }),
  action: oneOf(['drop', 'reply', 'honeypot'] as const)
    .default('drop')
    .meta({
      description:
        "What a banned source's messages get. `honeypot` hands them to the [honeypot](honeypot.md) (`drop` with `honeypot.enabled: false`).",
    }),
  default_duration: duration(1000)
    .default(3_600_000)
    .meta({ description: 'Length of a ban added by `sipwarden bans add` without `--for`.' }),
  max_bans: integer(1, 10_000_000)
    .default(100_000)
    .meta({ description: 'Most bans held at once; beyond it, the ban that expires soonest makes room.' }),
})
  .prefault({})
  .meta({ description: 'Timed bans, kept in the store.' });

export type BansGuardConfig = z.output<typeof bansSchema>;
