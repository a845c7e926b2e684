/** `guards.dial_scan`: extension and number scanning, watched on the upstream's answers. */
import * as z from 'zod';
import { duration, integer, mode, uniqueList } from '../../config/fields.js';
import { section } from '../../config/section.js';

export const dialScanSchema = section({
  mode: mode.default('enforce').meta({ description: 'As for `acl`.' }),
  window: duration(1000).default(60_000).meta({ description: 'How long refused destinations count.' }),
  max_destinations: integer(1, 10_000).default(10).meta({
    description: 'Distinct Request-URI users one source may have refused within `window`; one more bans it.',
  }),
  ban: duration(1000).default(3_600_000).meta({ description: 'Length of the ban.' }),
  methods: uniqueList(z.string().regex(/^[A-Z]{1,16}$/, { error: 'must be a method name in capitals, e.g. INVITE' }))
    .default(['INVITE', 'MESSAGE', 'OPTIONS', 'SUBSCRIBE', 'NOTIFY', 'REFER', 'PUBLISH'])
    .meta({
      type: 'list of methods',
      description:
        'Requests whose Request-URI user counts as a destination (one without a user part never counts): every method that names a user, so none can be used to walk the users.',
    }),
  codes: uniqueList(integer(300, 699)).default([403, 404, 480, 484, 503, 604]).meta({
    type: 'list of integers 300–699',
    description: 'Final answers that mean "no such destination". 401 and 407 never count.',
  }),
  max_sources: integer(100, 100_000_000).default(100_000).meta({ description: 'Most sources tracked at once.' }),
})
  .prefault({})
  .meta({
    description:
      "Extension and number scanning, watched on the upstream's answers ([docs/guards/dial-scan.md](guards/dial-scan.md)).",
  });

export type DialScanConfig = z.output<typeof dialScanSchema>;
