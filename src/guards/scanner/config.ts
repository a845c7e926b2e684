/** `guards.scanner`: detection of scanning and attack tools. */
import * as z from 'zod';
import { duration, fail, integer, mode, oneOf, uniqueList } from '../../config/fields.js';
import { section } from '../../config/section.js';
import { normalizeCidr } from '../../net/cidr.js';
import { patternError } from './patterns.js';

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

export const SIGNAL_ACTIONS = ['off', 'drop', 'reply', 'ban', 'honeypot', 'score'] as const;
export type SignalAction = (typeof SIGNAL_ACTIONS)[number];
const signalAction = oneOf(SIGNAL_ACTIONS);

/** One signal: an action name, or `{ action, points }`. */
const signal = (action: SignalAction, points: number, description: string) =>
  z
    .union([
      signalAction,
      z.strictObject({
        action: signalAction.default(action).meta({ description: 'What the signal does.' }),
        points: integer(0, 1000)
          .default(points)
          .meta({ description: "Points added to the source's score when the action is `score`." }),
      }),
    ])
    .default(action)
    .transform((v) => (typeof v === 'string' ? { action: v, points } : v))
    .meta({ type: 'action or mapping', description });

const signalsSchema = z
  .strictObject({
    user_agent: signal(
      'ban',
      10,
      'A User-Agent (or Server, in a response) matching `user_agents`, or svmap\'s From display name `"sipvicious"`.',
    ),
    sql_injection: signal(
      'ban',
      10,
      'SQL injection (quotes with `or`/`union`/`select`, comments, `;` statements) in the digest `username` or the user part of From, To or the Request-URI.',
    ),
    shell_metacharacters: signal(
      'ban',
      10,
      'Shell command syntax (`` ` ``, `$(`, `;`, `|`, `&&`, `>`) in the same places.',
    ),
    overlong_value: signal(
      'drop',
      5,
      'A value longer than the scanner reads, so that something could hide behind padding: a user name or digest username over 512 characters holding a character an injection needs (checked when `sql_injection` or `shell_metacharacters` is on), or a User-Agent or SDP session name over 1024 octets when a `/regex/` pattern is configured ([limits](guards/scanner.md#what-the-scanner-reads)).',
    ),
    ip_literal_host: signal(
      'score',
      3,
      "An IP address as the host of From or To where a domain is expected (sipwarden's own and trusted addresses excepted). Common on phones, so it only adds to the score by default. Checked on requests, as are the injection and Record-Route signals.",
    ),
    record_route_spoofing: signal(
      'drop',
      5,
      'A Record-Route from an untrusted source that names sipwarden itself or a trusted host.',
    ),
    record_route_foreign: signal(
      'drop',
      5,
      'The top Record-Route of a request from an untrusted source names another host than the address the request came from (any port), and none of `record_route_hosts`: a proxy on the path record-routes itself, so anything else was forged.',
    ),
    record_route_register: signal(
      'drop',
      5,
      'A REGISTER from an untrusted source carries Record-Route (meaningless there, RFC 3261 10.2; edge proxies use Path).',
    ),
    sdp_session_name: signal('ban', 10, 'An SDP session name (`s=`) matching `sdp_session_names`.'),
  })
  .prefault({})
  .meta({
    description:
      'What each signal does: an action name, or `{action, points}`. Actions: `off`, `drop`, `reply` (with `guards.reply`), `ban` (for `guards.scanner.ban`), `honeypot`, `score`.',
  });

export type ScannerSignal = keyof z.output<typeof signalsSchema>;
export const SCANNER_SIGNALS = Object.freeze(Object.keys(signalsSchema.unwrap().shape) as ScannerSignal[]);

/** A scanner pattern: a substring, or `/regex/` that must compile. */
const pattern = z.string().superRefine((text, ctx) => {
  const problem = patternError(text);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

/**
 * A host a Record-Route may name: an IP address or network, kept normalised, or a domain
 * name, kept in lower case without a final dot.
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

export const scannerSchema = section({
  mode: mode.default('enforce').meta({ description: 'As for `acl`.' }),
  user_agents: z
    .array(pattern)
    .default([...DEFAULT_SCANNER_USER_AGENTS])
    .meta({
      type: 'list of patterns',
      default: 'SIPVicious, sipcli, sip-scan and more ([list and sources](guards/scanner.md))',
      description: 'User-Agent patterns: a case-insensitive substring, or `/regex/`. Replaces the default list.',
    }),
  sdp_session_names: z
    .array(pattern)
    .default([...DEFAULT_SCANNER_SDP_NAMES])
    .meta({
      type: 'list of patterns',
      default: DEFAULT_SCANNER_SDP_NAMES.map((n) => `\`${n}\``).join(', '),
      description: 'SDP session names of attack tools, same syntax.',
    }),
  signals: signalsSchema,
  record_route_hosts: uniqueList(recordRouteHost).default([]).meta({
    type: 'list of host names, addresses or networks',
    description:
      'Hosts a top Record-Route may name whatever address the request comes from (`record_route_foreign`): an SBC that record-routes a host name, or a cluster that sends from one address and record-routes another. Names are compared as written (case-insensitive, never resolved: no DNS on the message path); addresses and networks as in `trusted`.',
  }),
  score_threshold: integer(1, 1_000_000).default(10).meta({
    description:
      'Score at which a source is banned. Each `score` signal adds its points at most once per source per window, so a phone that repeats one weak signal is never banned for it alone.',
  }),
  score_window: duration(1000).default(600_000).meta({ description: 'How long points count.' }),
  ban: duration(1000).default(3_600_000).meta({ description: 'Length of a scanner ban.' }),
})
  .prefault({})
  .meta({ description: 'Detection of scanning and attack tools.' });

export type ScannerConfig = z.output<typeof scannerSchema>;
export type SignalConfig = ScannerConfig['signals'][ScannerSignal];
