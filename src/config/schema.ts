/**
 * The configuration file's shape, in YAML terms (snake_case keys), as a zod schema.
 *
 * Field-level parsing happens here (URLs, durations, CIDRs, ranges); checks that relate
 * several fields (unique names, files on disk, cross-references) are in `loader.ts`, which
 * also turns the result into the camelCase `Config`. Keep `docs/configuration.md` in step:
 * a test checks that every key below is documented there.
 */
import * as z from 'zod';
import { patternError } from '../guards/scanner/patterns.js';
import { LOG_LEVELS } from '../log/logger.js';
import { normalizeCidr } from '../net/cidr.js';
import { describe } from '../net/ip.js';
import { bannerTextError } from '../topology/hygiene.js';
import { parseTopologyKey } from '../topology/keys.js';
import { DURATION_HINT, formatDuration, MAX_DURATION_MS, parseDuration } from './duration.js';
import { type Endpoint, type EndpointOptions, type HostPort, parseEndpoint, parseHostPort } from './endpoint.js';
import { AUTH_ALGORITHMS, SANITY_CHECKS } from './types.js';

/** Defaults of every optional setting (durations in milliseconds). */
export const DEFAULTS = Object.freeze({
  ping: Object.freeze({ interval: 10_000, timeout: 2_000, failures: 3 }),
  trusted: Object.freeze([] as string[]),
  sources: Object.freeze({ ipv4_prefix: 32, ipv6_prefix: 64 }),
  limits: Object.freeze({ max_message_bytes: 65535, max_headers: 128, max_header_bytes: 8192, max_list_entries: 64 }),
  tcp: Object.freeze({
    idle_timeout: 600_000,
    connect_timeout: 5_000,
    max_connections: 10_000,
    max_connections_per_ip: 32,
    upstream_reserve: 32,
    tls_handshake_timeout: 5_000,
    max_pending_output: 1_048_576,
    pongs_per_second: 2,
  }),
  replies: Object.freeze({ bad_request_per_second: 50 }),
  data_dir: './data',
  log: Object.freeze({ level: 'info' as const }),
  guards: Object.freeze({
    chain: Object.freeze(['acl', 'bans', 'flood', 'scanner', 'sanity', 'brute_force', 'dial_scan', 'fraud'] as const),
    reply: Object.freeze({ code: 403, reason: 'Forbidden' }),
    replies_per_second: 100,
    never_ban: Object.freeze([] as string[]),
    acl: Object.freeze({ mode: 'enforce' as const, default: 'allow' as const, action: 'drop' as const }),
    bans: Object.freeze({
      mode: 'enforce' as const,
      action: 'drop' as const,
      default_duration: 3_600_000,
      max_bans: 100_000,
    }),
    flood: Object.freeze({
      mode: 'enforce' as const,
      window: 2_000,
      max_messages: 100,
      ban: 300_000,
      max_sources: 100_000,
    }),
    scanner: Object.freeze({
      mode: 'enforce' as const,
      score_threshold: 10,
      score_window: 600_000,
      ban: 3_600_000,
      signals: Object.freeze({
        user_agent: Object.freeze({ action: 'ban' as const, points: 10 }),
        sql_injection: Object.freeze({ action: 'ban' as const, points: 10 }),
        shell_metacharacters: Object.freeze({ action: 'ban' as const, points: 10 }),
        overlong_value: Object.freeze({ action: 'drop' as const, points: 5 }),
        ip_literal_host: Object.freeze({ action: 'score' as const, points: 3 }),
        record_route_spoofing: Object.freeze({ action: 'drop' as const, points: 5 }),
        record_route_foreign: Object.freeze({ action: 'drop' as const, points: 5 }),
        record_route_register: Object.freeze({ action: 'drop' as const, points: 5 }),
        sdp_session_name: Object.freeze({ action: 'ban' as const, points: 10 }),
      }),
    }),
    auth: Object.freeze({
      mode: 'enforce' as const,
      realm: 'sipwarden',
      algorithms: Object.freeze(['sha-256', 'md5'] as const),
      methods: Object.freeze(['REGISTER', 'INVITE', 'SUBSCRIBE', 'PUBLISH', 'MESSAGE', 'REFER']),
      in_dialog: false,
      source: 'file' as const,
      nonce_lifetime: 300_000,
      challenge: 'auto' as const,
      strip_credentials: true,
      challenges_per_second: 1000,
      max_nonces: 100_000,
      identity: Object.freeze({ check: true }),
    }),
    brute_force: Object.freeze({
      mode: 'enforce' as const,
      max_failures: 3,
      window: 900_000,
      ban: 3_600_000,
      normalize_not_found: true,
      max_entries: 100_000,
      distributed: Object.freeze({ sources: 10, window: 3_600_000, lock: false, lock_duration: 900_000 }),
    }),
    dial_scan: Object.freeze({
      mode: 'enforce' as const,
      window: 60_000,
      max_destinations: 10,
      ban: 3_600_000,
      methods: Object.freeze(['INVITE', 'MESSAGE', 'OPTIONS', 'SUBSCRIBE', 'NOTIFY', 'REFER', 'PUBLISH'] as const),
      codes: Object.freeze([403, 404, 480, 484, 503, 604]),
      max_sources: 100_000,
    }),
    fraud: Object.freeze({
      mode: 'enforce' as const,
      calls_per_minute: Object.freeze({ warn: 0, block: 0 }),
      concurrent_calls: Object.freeze({ warn: 0, block: 0 }),
      repeated_calls: Object.freeze({ warn: 0, block: 0, window: 3_600_000 }),
      max_call_duration: 14_400_000,
      deny_prefixes: Object.freeze([] as string[]),
      allow_prefixes: Object.freeze([] as string[]),
      max_users: 100_000,
    }),
  }),
  honeypot: Object.freeze({
    enabled: true,
    server: 'Asterisk PBX 18.20.0',
    realm: 'asterisk',
    call_duration: 0,
    amplification_factor: 3,
    replies_per_second: 20,
    max_records: 10_000,
  }),
  store: Object.freeze({ type: 'sqlite' as const, file: 'sipwarden.db' }),
  firewall: Object.freeze({
    sync: false,
    backend: 'nftables' as const,
    table: 'sipwarden',
    open_tcp_ports: Object.freeze([22]),
    scan_slowing: true,
  }),
  topology: Object.freeze({
    hide: true,
    call_id: true,
    internal_hosts: Object.freeze([] as string[]),
    out: Object.freeze({
      server: 'remove' as const,
      user_agent: 'remove' as const,
      remove: Object.freeze([] as string[]),
    }),
    in: Object.freeze({
      server: 'keep' as const,
      user_agent: 'keep' as const,
      remove: Object.freeze([] as string[]),
      strip_asserted_identity: true,
    }),
  }),
});

/**
 * User-Agent patterns of real scanning and attack tools (substrings, case-insensitive); where
 * each comes from is in docs/guards/scanner.md. Names of real products are left out.
 */
export const DEFAULT_SCANNER_USER_AGENTS: readonly string[] = Object.freeze([
  'friendly-scanner',
  'sipvicious',
  'sipcli/',
  'sip-scan',
  'sipscan',
  'sipsak',
  'sundayddr',
  'iwar',
  'vaxsipuseragent',
  'pplsip',
  'siparmyknife',
  'smap',
  'svcrack',
  'svwar',
  'svmap',
  'sivus',
  'nessus',
  'nmap nse',
]);

/** SDP session names (`s=`) of attack tools. */
export const DEFAULT_SCANNER_SDP_NAMES: readonly string[] = Object.freeze([
  'sipvicious',
  'svcrack',
  'sipcli',
  'sip-scan',
]);

export const MIN_SECRET_LENGTH = 32;

/** A value as an error message shows it: strings quoted (and cut short), collections by kind. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return describe(value);
}

function fail(ctx: z.RefinementCtx, message: string): typeof z.NEVER {
  ctx.addIssue({ code: 'custom', message });
  return z.NEVER;
}

/** A required value that was left out reaches a `z.unknown()` leaf as undefined. */
function required(ctx: z.RefinementCtx): typeof z.NEVER {
  return fail(ctx, 'required');
}

const endpoint = (options: EndpointOptions) =>
  z.string().transform((url, ctx): Endpoint => {
    try {
      return parseEndpoint(url, options);
    } catch (err) {
      return fail(ctx, (err as Error).message);
    }
  });

const duration = (min: number) =>
  z.unknown().transform((value, ctx): number => {
    if (value === undefined) return required(ctx);
    const ms = parseDuration(value);
    if (ms === undefined) return fail(ctx, `${describeValue(value)} is not a duration (${DURATION_HINT})`);
    if (ms < min) return fail(ctx, `must be at least ${formatDuration(min)}`);
    if (ms > MAX_DURATION_MS) return fail(ctx, `must be at most ${formatDuration(MAX_DURATION_MS)}`);
    return ms;
  });

const integer = (min: number, max: number) =>
  z.unknown().transform((value, ctx): number => {
    if (value === undefined) return required(ctx);
    const n =
      typeof value === 'number' ? value : typeof value === 'string' && /^[0-9]+$/.test(value) ? Number(value) : NaN;
    if (!Number.isInteger(n)) return fail(ctx, `expected a whole number, got ${describeValue(value)}`);
    if (n < min || n > max) return fail(ctx, `must be from ${min} to ${max}, got ${n}`);
    return n;
  });

const cidr = z.string().transform((text, ctx): string => {
  try {
    return normalizeCidr(text);
  } catch (err) {
    return fail(ctx, (err as Error).message);
  }
});

const advertise = z.string().transform((text, ctx): HostPort => {
  try {
    // Port 0 stands for "the listener's port" and is replaced by the loader.
    return parseHostPort(text, 0);
  } catch (err) {
    return fail(ctx, (err as Error).message);
  }
});

const nonEmpty = z.string().min(1, { error: 'must not be empty' });

/**
 * A host a Record-Route may name (`guards.scanner.record_route_hosts`): an IP address or
 * network, kept normalised, or a domain name, kept in lower case without a final dot.
 */
const recordRouteHost = z.string().transform((text, ctx): string => {
  if (/^[0-9.]+(\/[0-9]+)?$/.test(text) || text.includes(':')) {
    try {
      return normalizeCidr(text);
    } catch (err) {
      return fail(ctx, (err as Error).message);
    }
  }
  const name = text.toLowerCase().replace(/\.$/, '');
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(name) || name.length > 253) {
    return fail(ctx, 'must be a domain name, an IP address or a network');
  }
  return name;
});

/** A scanner pattern: a substring, or `/regex/` that must compile. */
const pattern = z.string().superRefine((text, ctx) => {
  const problem = patternError(text);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `must be one of ${values.join(', ')}` });
}

const mode = oneOf(['enforce', 'monitor', 'off'] as const);

/** A topology key: 32 bytes written as 64 hex digits or base64 (standard or url-safe); kept as hex. */
const topologyKey = z.string().transform((text, ctx): string => {
  const key = parseTopologyKey(text);
  // Never quote the value: it is a secret.
  if (key === undefined) return fail(ctx, 'must be 32 bytes written as 64 hex digits or base64');
  return key.toString('hex');
});

/** A point in time: an ISO 8601 date or date-time (YAML may already have made it a Date). */
const timestamp = z.unknown().transform((value, ctx): number => {
  if (value === undefined) return required(ctx);
  const ms = value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms))
    return fail(ctx, `${describeValue(value)} is not a date (e.g. 2026-12-31 or 2026-12-31T12:00:00Z)`);
  return ms;
});

/** Server / User-Agent rule: keep, remove, or `{ replace: text }`. */
const banner = z.union([
  oneOf(['keep', 'remove'] as const),
  z.strictObject({
    replace: z.string().superRefine((text, ctx) => {
      const problem = bannerTextError(text);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
    }),
  }),
]);

/** A header name, or a prefix written `Name-*`. */
const headerPattern = z.string().regex(/^[A-Za-z0-9!%'+._`~-]+\*?$/, {
  error: 'must be a header name, or a prefix such as X-*',
});

/** One scanner signal: an action name, or `{ action, points }`. */
const signal = (d: { action: SignalAction; points: number }) =>
  z
    .union([
      oneOf(SIGNAL_ACTIONS),
      z.strictObject({ action: oneOf(SIGNAL_ACTIONS).default(d.action), points: integer(0, 1000).default(d.points) }),
    ])
    .default(d.action)
    .transform((v) => (typeof v === 'string' ? { action: v, points: d.points } : v));

/** A `{warn, block}` pair of limits; 0 turns either off. */
const threshold = (d: { warn: number; block: number }) =>
  z
    .strictObject({
      warn: integer(0, 1_000_000).default(d.warn),
      block: integer(0, 1_000_000).default(d.block),
    })
    .prefault({});

/** A dialled-number prefix: digits, optionally after `+`, with `*` and `#`. */
const dialPrefix = z.string().regex(/^\+?[0-9*#]{1,32}$/, { error: 'must be digits, optionally after "+"' });

const SIGNAL_ACTIONS = ['off', 'drop', 'reply', 'ban', 'honeypot', 'score'] as const;
type SignalAction = (typeof SIGNAL_ACTIONS)[number];
const G = DEFAULTS.guards;

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
 * A username in `guards.auth.identity.aliases`: a digest username or the user part of a URI
 * (after %-decoding), as in the users file: no spaces, controls, ':', '"' or '\\'.
 */
const identityUser = z
  .string()
  .regex(/^[^\x00-\x20\x7f:"\\]{1,128}$/, { error: 'must be a username (no spaces, controls, ":", \'"\' or "\\")' });

const guardsSchema = z.strictObject({
  chain: z
    .array(oneOf(['acl', 'bans', 'flood', 'sanity', 'scanner', 'auth', 'brute_force', 'dial_scan', 'fraud'] as const))
    .refine((list) => new Set(list).size === list.length, { error: 'lists a guard twice' })
    .default([...G.chain]),
  reply: z
    .strictObject({
      code: integer(300, 699),
      reason: z.string().regex(/^[\x20-\x7e]{1,64}$/, { error: 'must be 1-64 printable ASCII characters' }),
    })
    .default({ ...G.reply }),
  replies_per_second: integer(0, 1_000_000).default(G.replies_per_second),
  never_ban: z.array(cidr).default([]),
  acl: z
    .strictObject({
      mode: mode.default(G.acl.mode),
      allow: z.array(cidr).default([]),
      deny: z.array(cidr).default([]),
      allow_files: z.array(nonEmpty).default([]),
      deny_files: z.array(nonEmpty).default([]),
      default: oneOf(['allow', 'deny'] as const).default(G.acl.default),
      action: oneOf(['drop', 'reply'] as const).default(G.acl.action),
    })
    .prefault({}),
  bans: z
    .strictObject({
      mode: mode.default(G.bans.mode),
      action: oneOf(['drop', 'reply', 'honeypot'] as const).default(G.bans.action),
      default_duration: duration(1000).default(G.bans.default_duration),
      max_bans: integer(1, 10_000_000).default(G.bans.max_bans),
    })
    .prefault({}),
  flood: z
    .strictObject({
      mode: mode.default(G.flood.mode),
      window: duration(100).default(G.flood.window),
      max_messages: integer(1, 10_000_000).default(G.flood.max_messages),
      ban: duration(1000).default(G.flood.ban),
      max_sources: integer(100, 100_000_000).default(G.flood.max_sources),
    })
    .prefault({}),
  sanity: z
    .strictObject({
      mode: mode.default('enforce'),
      checks: z
        .array(z.enum(SANITY_CHECKS, { error: `must be one of ${SANITY_CHECKS.join(', ')}` }))
        .default([...SANITY_CHECKS]),
    })
    .prefault({}),
  scanner: z
    .strictObject({
      mode: mode.default(G.scanner.mode),
      user_agents: z.array(pattern).default([...DEFAULT_SCANNER_USER_AGENTS]),
      sdp_session_names: z.array(pattern).default([...DEFAULT_SCANNER_SDP_NAMES]),
      signals: z
        .strictObject({
          user_agent: signal(G.scanner.signals.user_agent),
          sql_injection: signal(G.scanner.signals.sql_injection),
          shell_metacharacters: signal(G.scanner.signals.shell_metacharacters),
          overlong_value: signal(G.scanner.signals.overlong_value),
          ip_literal_host: signal(G.scanner.signals.ip_literal_host),
          record_route_spoofing: signal(G.scanner.signals.record_route_spoofing),
          record_route_foreign: signal(G.scanner.signals.record_route_foreign),
          record_route_register: signal(G.scanner.signals.record_route_register),
          sdp_session_name: signal(G.scanner.signals.sdp_session_name),
        })
        .prefault({}),
      record_route_hosts: z.array(recordRouteHost).default([]),
      score_threshold: integer(1, 1_000_000).default(G.scanner.score_threshold),
      score_window: duration(1000).default(G.scanner.score_window),
      ban: duration(1000).default(G.scanner.ban),
    })
    .prefault({}),
  auth: z
    .strictObject({
      mode: mode.default(G.auth.mode),
      realm: realmText.default(G.auth.realm),
      realms: z
        .record(z.string().regex(/^[A-Za-z0-9.-]{1,253}$/, { error: 'must be a domain name' }), realmText)
        .default({}),
      algorithms: z
        .array(oneOf(AUTH_ALGORITHMS))
        .min(1, { error: 'must list at least one algorithm' })
        .refine((list) => new Set(list).size === list.length, { error: 'lists an algorithm twice' })
        .default([...G.auth.algorithms]),
      methods: z
        .array(
          z
            .string()
            .regex(/^[A-Za-z]{1,32}$/, { error: 'must be a method name' })
            .refine((m) => m.toUpperCase() !== 'ACK' && m.toUpperCase() !== 'CANCEL', {
              error: 'ACK and CANCEL cannot be challenged',
            }),
        )
        .default([...G.auth.methods]),
      in_dialog: z.boolean().default(G.auth.in_dialog),
      source: oneOf(['file', 'store'] as const).default(G.auth.source),
      users_file: nonEmpty.optional(),
      nonce_lifetime: duration(1000).default(G.auth.nonce_lifetime),
      secret: z
        .string()
        .refine((s) => s.length >= MIN_SECRET_LENGTH, {
          error: (issue) =>
            `must be at least ${MIN_SECRET_LENGTH} characters long (got ${(issue.input as string).length})`,
        })
        .optional(),
      challenge: z
        .unknown()
        .transform((v, ctx): 'auto' | 401 | 407 => {
          if (v === undefined || v === 'auto') return 'auto';
          if (v === 401 || v === '401') return 401;
          if (v === 407 || v === '407') return 407;
          return fail(ctx, `must be 401, 407 or auto, got ${describeValue(v)}`);
        })
        .default(G.auth.challenge),
      strip_credentials: z.boolean().default(G.auth.strip_credentials),
      challenges_per_second: integer(0, 1_000_000).default(G.auth.challenges_per_second),
      max_nonces: integer(100, 10_000_000).default(G.auth.max_nonces),
      identity: z
        .strictObject({
          check: z.boolean().default(G.auth.identity.check),
          aliases: z.record(identityUser, z.array(identityUser)).default({}),
        })
        .prefault({}),
    })
    .prefault({}),
  brute_force: z
    .strictObject({
      mode: mode.default(G.brute_force.mode),
      max_failures: integer(1, 1000).default(G.brute_force.max_failures),
      window: duration(1000).default(G.brute_force.window),
      ban: duration(1000).default(G.brute_force.ban),
      normalize_not_found: z.boolean().default(G.brute_force.normalize_not_found),
      max_entries: integer(100, 100_000_000).default(G.brute_force.max_entries),
      distributed: z
        .strictObject({
          sources: integer(2, 100_000).default(G.brute_force.distributed.sources),
          window: duration(1000).default(G.brute_force.distributed.window),
          lock: z.boolean().default(G.brute_force.distributed.lock),
          lock_duration: duration(1000).default(G.brute_force.distributed.lock_duration),
        })
        .prefault({}),
    })
    .prefault({}),
  dial_scan: z
    .strictObject({
      mode: mode.default(G.dial_scan.mode),
      window: duration(1000).default(G.dial_scan.window),
      max_destinations: integer(1, 10_000).default(G.dial_scan.max_destinations),
      ban: duration(1000).default(G.dial_scan.ban),
      methods: z
        .array(z.string().regex(/^[A-Z]{1,16}$/, { error: 'must be a method name in capitals, e.g. INVITE' }))
        .default([...G.dial_scan.methods]),
      codes: z.array(integer(300, 699)).default([...G.dial_scan.codes]),
      max_sources: integer(100, 100_000_000).default(G.dial_scan.max_sources),
    })
    .prefault({}),
  fraud: z
    .strictObject({
      mode: mode.default(G.fraud.mode),
      calls_per_minute: threshold(G.fraud.calls_per_minute),
      concurrent_calls: threshold(G.fraud.concurrent_calls),
      repeated_calls: z
        .strictObject({
          warn: integer(0, 1_000_000).default(G.fraud.repeated_calls.warn),
          block: integer(0, 1_000_000).default(G.fraud.repeated_calls.block),
          window: duration(1000).default(G.fraud.repeated_calls.window),
        })
        .prefault({}),
      max_call_duration: duration(60_000).default(G.fraud.max_call_duration),
      deny_prefixes: z.array(dialPrefix).default([]),
      allow_prefixes: z.array(dialPrefix).default([]),
      max_users: integer(100, 100_000_000).default(G.fraud.max_users),
    })
    .prefault({}),
});

const H = DEFAULTS.honeypot;

/** Where flagged requests go instead of the built-in responder: udp:// or tcp:// and an IP address. */
const honeypotForward = endpoint({ requireIp: true }).superRefine((ep, ctx) => {
  if (ep.transport === 'tls') ctx.addIssue({ code: 'custom', message: 'must be a udp:// or tcp:// URL' });
});

const honeypotSchema = z.strictObject({
  enabled: z.boolean().default(H.enabled),
  server: z
    .string()
    .regex(/^[\x20-\x7e]{1,100}$/, { error: 'must be 1-100 printable ASCII characters (or "none")' })
    .default(H.server),
  realm: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'must be 1-64 letters, digits, ".", "_" or "-"' })
    .default(H.realm),
  call_duration: duration(0).default(H.call_duration),
  amplification_factor: integer(1, 100).default(H.amplification_factor),
  replies_per_second: integer(1, 1_000_000).default(H.replies_per_second),
  max_records: integer(1, 10_000_000).default(H.max_records),
  forward: honeypotForward.optional(),
});

export const listenSchema = z.union([
  endpoint({ requireIp: true, allowPortZero: true }),
  z.strictObject({
    url: endpoint({ requireIp: true, allowPortZero: true }),
    cert: nonEmpty.optional(),
    key: nonEmpty.optional(),
    advertise: advertise.optional(),
  }),
]);

const pingObject = z.strictObject({
  interval: duration(100).default(DEFAULTS.ping.interval),
  timeout: duration(10).default(DEFAULTS.ping.timeout),
  failures: integer(1, 100).default(DEFAULTS.ping.failures),
});

export const upstreamSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, {
    error: 'must be 1-63 letters, digits, "-", "_" or ".", starting with a letter or digit',
  }),
  targets: z.array(endpoint({})).min(1, { error: 'must list at least one target' }),
  // `ping: true` means the defaults; `ping: false` turns the health check off.
  ping: z.union([z.boolean(), pingObject]).prefault(true),
  // How sipwarden checks the certificates of this upstream's tls:// targets.
  tls: z
    .strictObject({
      verify: z.boolean().default(true),
      ca: nonEmpty.optional(),
      server_name: nonEmpty.optional(),
    })
    .prefault({}),
});

export const configSchema = z.strictObject({
  listen: z.array(listenSchema).min(1, { error: 'must list at least one address' }),
  upstreams: z.array(upstreamSchema).min(1, { error: 'must list at least one upstream' }),
  default_upstream: z.string().optional(),
  trusted: z.array(cidr).default([]),
  sources: z
    .strictObject({
      ipv4_prefix: integer(8, 32).default(DEFAULTS.sources.ipv4_prefix),
      ipv6_prefix: integer(16, 128).default(DEFAULTS.sources.ipv6_prefix),
    })
    .prefault({}),
  limits: z
    .strictObject({
      max_message_bytes: integer(1024, 1_048_576).default(DEFAULTS.limits.max_message_bytes),
      max_headers: integer(8, 4096).default(DEFAULTS.limits.max_headers),
      max_header_bytes: integer(256, 65_535).default(DEFAULTS.limits.max_header_bytes),
      max_list_entries: integer(16, 4096).default(DEFAULTS.limits.max_list_entries),
    })
    .prefault({}),
  tcp: z
    .strictObject({
      idle_timeout: duration(1000).default(DEFAULTS.tcp.idle_timeout),
      connect_timeout: duration(10).default(DEFAULTS.tcp.connect_timeout),
      max_connections: integer(1, 1_000_000).default(DEFAULTS.tcp.max_connections),
      max_connections_per_ip: integer(1, 1_000_000).default(DEFAULTS.tcp.max_connections_per_ip),
      // Unset: DEFAULTS.tcp.upstream_reserve, at most a quarter of max_connections (loader).
      upstream_reserve: integer(0, 1_000_000).optional(),
      tls_handshake_timeout: duration(100).default(DEFAULTS.tcp.tls_handshake_timeout),
      max_pending_output: integer(65_536, 1_073_741_824).default(DEFAULTS.tcp.max_pending_output),
      pongs_per_second: integer(0, 1000).default(DEFAULTS.tcp.pongs_per_second),
    })
    .prefault({}),
  replies: z
    .strictObject({
      bad_request_per_second: integer(0, 1_000_000).default(DEFAULTS.replies.bad_request_per_second),
    })
    .prefault({}),
  secret: z
    .string()
    .refine((s) => s === '' || s.length >= MIN_SECRET_LENGTH, {
      // Never quote the value: it is a secret.
      error: (issue) => `must be at least ${MIN_SECRET_LENGTH} characters long (got ${(issue.input as string).length})`,
    })
    .optional(),
  data_dir: nonEmpty.optional(),
  log: z
    .strictObject({
      level: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).default(DEFAULTS.log.level),
      file: nonEmpty.optional(),
    })
    .prefault({}),
  guards: guardsSchema.prefault({}),
  honeypot: honeypotSchema.prefault({}),
  store: z
    .strictObject({
      type: oneOf(['sqlite', 'memory'] as const).default(DEFAULTS.store.type),
      file: nonEmpty.optional(),
    })
    .prefault({}),
  firewall: z
    .strictObject({
      sync: z.boolean().default(DEFAULTS.firewall.sync),
      backend: oneOf(['nftables', 'iptables'] as const).default(DEFAULTS.firewall.backend),
      table: z
        .string()
        .regex(/^[a-z][a-z0-9_]{0,23}$/, {
          error: 'must be 1-24 lower-case letters, digits or "_", starting with a letter',
        })
        .default(DEFAULTS.firewall.table),
      open_tcp_ports: z.array(integer(1, 65535)).default([...DEFAULTS.firewall.open_tcp_ports]),
      scan_slowing: z.boolean().default(DEFAULTS.firewall.scan_slowing),
    })
    .prefault({}),
  topology: z
    .strictObject({
      hide: z.boolean().default(DEFAULTS.topology.hide),
      key: topologyKey.optional(),
      previous_keys: z.array(z.strictObject({ key: topologyKey, until: timestamp })).default([]),
      call_id: z.boolean().default(DEFAULTS.topology.call_id),
      internal_hosts: z.array(nonEmpty).default([...DEFAULTS.topology.internal_hosts]),
      out: z
        .strictObject({
          server: banner.default(DEFAULTS.topology.out.server),
          user_agent: banner.default(DEFAULTS.topology.out.user_agent),
          remove: z.array(headerPattern).default([...DEFAULTS.topology.out.remove]),
        })
        .prefault({}),
      in: z
        .strictObject({
          server: banner.default(DEFAULTS.topology.in.server),
          user_agent: banner.default(DEFAULTS.topology.in.user_agent),
          remove: z.array(headerPattern).default([...DEFAULTS.topology.in.remove]),
          strip_asserted_identity: z.boolean().default(DEFAULTS.topology.in.strip_asserted_identity),
        })
        .prefault({}),
    })
    .prefault({}),
});

export type RawConfig = z.output<typeof configSchema>;

// ---- introspection (did-you-mean for unknown keys; the docs test) ----

interface Walkable {
  _zod: {
    def: {
      type: string;
      shape?: Record<string, Walkable>;
      element?: Walkable;
      options?: Walkable[];
      innerType?: Walkable;
      in?: Walkable;
    };
  };
}

function unwrap(schema: Walkable): Walkable {
  for (;;) {
    const def = schema._zod.def;
    if (def.innerType) schema = def.innerType;
    else if (def.type === 'pipe' && def.in) schema = def.in;
    else return schema;
  }
}

/** Object schemas reachable at `path` (several through unions). */
function objectsAt(schema: Walkable, path: readonly PropertyKey[]): Walkable[] {
  const s = unwrap(schema);
  const def = s._zod.def;
  if (def.type === 'union') return def.options!.flatMap((o) => objectsAt(o, path));
  if (path.length === 0) return def.type === 'object' ? [s] : [];
  const [head, ...rest] = path;
  if (def.type === 'object' && typeof head === 'string' && def.shape![head]) return objectsAt(def.shape![head]!, rest);
  if (def.type === 'array' && typeof head === 'number') return objectsAt(def.element!, rest);
  return [];
}

/** The keys the schema allows in the mapping at `path` (e.g. `['upstreams', 0, 'ping']`). */
export function allowedKeysAt(path: readonly PropertyKey[]): string[] {
  const keys = new Set<string>();
  for (const o of objectsAt(configSchema as unknown as Walkable, path)) {
    for (const k of Object.keys(o._zod.def.shape!)) keys.add(k);
  }
  return [...keys];
}

/**
 * Every key of the schema as a documentation path: `listen`, `listen[].url`,
 * `upstreams[].ping.interval`, `tcp.idle_timeout`, ...
 */
export function schemaKeyPaths(): string[] {
  const out: string[] = [];
  const walk = (schema: Walkable, prefix: string) => {
    const s = unwrap(schema);
    const def = s._zod.def;
    if (def.type === 'union') for (const o of def.options!) walk(o, prefix);
    else if (def.type === 'array') walk(def.element!, `${prefix}[]`);
    else if (def.type === 'object') {
      for (const [k, v] of Object.entries(def.shape!)) {
        const p = prefix ? `${prefix}.${k}` : k;
        if (!out.includes(p)) out.push(p);
        walk(v, p);
      }
    }
  };
  walk(configSchema as unknown as Walkable, '');
  return out;
}
