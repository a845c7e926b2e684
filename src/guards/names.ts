/** The guards, by the names `guards.chain` lists them with (and their sections are keyed by). */
export const GUARD_NAMES = [
  'acl',
  'bans',
  'flood',
  'sanity',
  'scanner',
  'auth',
  'brute_force',
  'dial_scan',
  'fraud',
] as const;

export type GuardName = (typeof GUARD_NAMES)[number];
