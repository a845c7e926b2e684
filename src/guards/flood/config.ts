/** `guards.flood`: flood detection per source, as Kamailio's pike. */
import type * as z from 'zod';
import { type Bounds, duration, integer, mode } from '../../config/fields.js';
import { section } from '../../config/section.js';

/** Bounds of `max_messages`, checked by the guard too. */
export const FLOOD_MAX_MESSAGES: Bounds = { min: 1, max: 10_000_000 };
/** Bounds of `max_sources`, checked by the guard too. */
export const FLOOD_MAX_SOURCES: Bounds = { min: 100, max: 100_000_000 };

export const floodSchema = section({
  mode: mode.default('enforce').meta({ description: 'As for `acl`.' }),
  window: duration(100).default(2_000).meta({ description: "Sampling window (pike's `sampling_time_unit`)." }),
  max_messages: integer(FLOOD_MAX_MESSAGES.min, FLOOD_MAX_MESSAGES.max).default(100).meta({
    description:
      "Messages (requests, responses, unparseable datagrams) one source (see `sources`) may send per window (pike's `reqs_density_per_unit`); more bans the source. Counted over a sliding window, so a burst across a window boundary counts. The default leaves room for a phone with many BLF keys subscribing at boot, or an office of phones behind one NAT address; floods and scanners send hundreds to thousands a second.",
  }),
  ban: duration(1000).default(300_000).meta({ description: 'Length of a flood ban.' }),
  max_sources: integer(FLOOD_MAX_SOURCES.min, FLOOD_MAX_SOURCES.max).default(100_000).meta({
    description:
      "Most sources tracked at once, which caps the guard's memory; under a flood from more addresses the least active are forgotten first.",
  }),
})
  .prefault({})
  .meta({ description: "Flood detection per source, as Kamailio's pike." });

export type FloodConfig = z.output<typeof floodSchema>;
