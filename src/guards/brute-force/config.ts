/** `guards.brute_force`: password guessing, watched on the upstream's answers. */
import * as z from 'zod';
import { duration, integer, mode } from '../../config/fields.js';
import { section } from '../../config/section.js';

const distributedSchema = section({
  sources: integer(2, 100_000).default(10).meta({
    description:
      'Distinct sources failing for one username within `window` that raise the `distributed` alert (a `warn` log line, `event: alert`).',
  }),
  window: duration(1000).default(3_600_000).meta({ description: 'How long those failures count.' }),
  lock: z.boolean().default(false).meta({
    description:
      "After the alert, refuse (403) the username's credentials from every source that never authenticated as it, for `lock_duration`. Sources that did keep working; a phone that moves to a new address during the lock is refused until it ends.",
  }),
  lock_duration: duration(1000).default(900_000).meta({ description: 'Length of the lock.' }),
})
  .prefault({})
  .meta({ description: 'One username guessed from many sources.' });

export const bruteForceSchema = section({
  mode: mode.default('enforce').meta({ description: 'As for `acl`.' }),
  max_failures: integer(1, 1000).default(3).meta({
    description:
      'Failed authentications from one source within `window` that ban it; the answer to the one that reaches the limit is replaced by `403 Try later`. A success for a user from the source forgets its failures for that user.',
  }),
  window: duration(1000).default(900_000).meta({ description: 'How long failures count.' }),
  ban: duration(1000).default(3_600_000).meta({ description: 'Length of the ban.' }),
  normalize_not_found: z.boolean().default(true).meta({
    description:
      'A `404` answer to any request that names a user (a REGISTER, a request with credentials, or one with a Request-URI user: SUBSCRIBE, OPTIONS, MESSAGE, NOTIFY, REFER, INVITE, PUBLISH) goes out as `403 Forbidden`, the answer to a wrong password, so usernames cannot be told apart by it. It counts as a failure for a REGISTER or for credentials the source never authenticated with; otherwise as a refused destination for `dial_scan`.',
  }),
  max_entries: integer(100, 100_000_000).default(100_000).meta({
    description:
      'Most sources, usernames and known-good (source, user) pairs tracked, each; the least recently seen are forgotten first.',
  }),
  distributed: distributedSchema,
})
  .prefault({})
  .meta({
    description:
      "Password guessing, watched on the upstream's answers ([docs/guards/brute-force.md](guards/brute-force.md)). Only requests with digest credentials answered 401, 407 or 403 count as failures (not a phone's first, unauthenticated request, nor a `stale=true` challenge). Sipwarden's own digest authentication reports its outcomes here too.",
  });

export type BruteForceConfig = z.output<typeof bruteForceSchema>;
export type DistributedGuessingConfig = BruteForceConfig['distributed'];
