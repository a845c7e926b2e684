/** The normalised configuration: camelCase, defaults filled in, durations in milliseconds, deeply frozen. */
import type { LogLevel } from '../log/logger.js';
import type { Endpoint, HostPort } from './endpoint.js';

export interface ListenConfig extends Endpoint {
  /** Absolute path of the PEM certificate chain (tls:// only). */
  cert: string | undefined;
  /** Absolute path of the PEM private key (tls:// only). */
  key: string | undefined;
  /** Host and port to write in Via/Record-Route/Path instead of the bound address. */
  advertise: HostPort | undefined;
}

export interface PingConfig {
  /** Milliseconds between OPTIONS pings to each target. */
  interval: number;
  /** Milliseconds to wait for any response to a ping. */
  timeout: number;
  /** Consecutive failed pings before a target is marked down. */
  failures: number;
}

export interface UpstreamConfig {
  name: string;
  targets: readonly Endpoint[];
  /** OPTIONS health check, or false when disabled. */
  ping: Readonly<PingConfig> | false;
  /** Certificate checks for tls:// targets. */
  tls: Readonly<UpstreamTlsConfig>;
}

export interface UpstreamTlsConfig {
  /** Verify the target's certificate chain and name (default true). */
  verify: boolean;
  /** Absolute path of a PEM file of CAs to trust instead of the system's, or undefined. */
  ca: string | undefined;
  /** Name to check the certificate against (and to send as SNI); default: the target's host. */
  serverName: string | undefined;
}

export interface LimitsConfig {
  maxMessageBytes: number;
  maxHeaders: number;
  maxHeaderBytes: number;
  /** Most entries of one header (list elements, or lines of a header that is no list). */
  maxListEntries: number;
}

export interface TcpConfig {
  /** Milliseconds without traffic before an inbound TCP/TLS connection is closed. */
  idleTimeout: number;
  /** Milliseconds allowed for an outbound TCP connect and TLS handshake. */
  connectTimeout: number;
  /** Most connections at once, accepted and opened together. */
  maxConnections: number;
  /** Most connections at once from one address (IPv6: one prefix of the flood guard's length). */
  maxConnectionsPerIp: number;
  /**
   * Slots of maxConnections only connections sipwarden opens to upstream targets may use:
   * every other connection (accepted, or opened towards a phone) shares the rest.
   */
  upstreamReserve: number;
  /** Milliseconds an accepted TLS connection has to complete its handshake. */
  tlsHandshakeTimeout: number;
  /** Bytes of unsent output (socket buffer plus pre-connect queue) that close a connection. */
  maxPendingOutput: number;
  /** CRLF pongs per second and connection (RFC 5626 4.4.1); pings beyond get none. */
  pongsPerSecond: number;
}

export interface RepliesConfig {
  /** 400 answers to malformed requests per second (all sources together); 0 = never answer. */
  badRequestPerSecond: number;
}

export interface LogConfig {
  level: LogLevel;
  /** Absolute path of a file to append log lines to (besides stdout), or undefined. */
  file: string | undefined;
}

// ---- guards ----

export type GuardMode = 'enforce' | 'monitor' | 'off';
export type GuardName =
  | 'acl'
  | 'bans'
  | 'flood'
  | 'sanity'
  | 'scanner'
  | 'auth'
  | 'brute_force'
  | 'dial_scan'
  | 'fraud';

export interface GuardReplyConfig {
  /** Status code of `reply` actions (e.g. 403). */
  code: number;
  reason: string;
}

export interface AclConfig {
  mode: GuardMode;
  /** Canonical addresses/networks that skip the rest of the chain. */
  allow: readonly string[];
  /** Canonical addresses/networks that are refused. */
  deny: readonly string[];
  /** Absolute paths of allow-list files (one address or network per line, `#` comments), re-read on change. */
  allowFiles: readonly string[];
  /** Absolute paths of deny-list files, same format. */
  denyFiles: readonly string[];
  /** Sources on neither list: `allow` lets them through, `deny` admits only allow-listed sources. */
  default: 'allow' | 'deny';
  /** What a denied source gets. */
  action: 'drop' | 'reply';
}

export interface BansGuardConfig {
  mode: GuardMode;
  /** What a banned source's messages get. */
  action: 'drop' | 'reply' | 'honeypot';
  /** Length of a ban added without one (CLI, admin API), in ms. */
  defaultDuration: number;
  /** Most bans held at once; beyond it the ban expiring soonest is replaced. */
  maxBans: number;
}

export interface FloodConfig {
  mode: GuardMode;
  /** Sampling window in ms (pike's sampling_time_unit). */
  window: number;
  /** Messages one source (prefix) may send per window (pike's reqs_density_per_unit). */
  maxMessages: number;
  /** Ban length in ms. */
  ban: number;
  /** Prefix length that makes one IPv4 source (32: each address). */
  ipv4Prefix: number;
  /** Prefix length that makes one IPv6 source (64: a whole /64). */
  ipv6Prefix: number;
  /** Most sources tracked at once; the least active are forgotten first. */
  maxSources: number;
}

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

export interface SanityConfig {
  mode: GuardMode;
  /** Checks to make (default: all). */
  checks: readonly SanityCheck[];
}

export type SignalAction = 'off' | 'drop' | 'reply' | 'ban' | 'honeypot' | 'score';
export const SCANNER_SIGNALS = [
  'user_agent',
  'sql_injection',
  'shell_metacharacters',
  'overlong_value',
  'ip_literal_host',
  'record_route_spoofing',
  'record_route_foreign',
  'record_route_register',
  'sdp_session_name',
] as const;
export type ScannerSignal = (typeof SCANNER_SIGNALS)[number];

export interface SignalConfig {
  action: SignalAction;
  /** Points added to the source's score (action `score`). */
  points: number;
}

export interface ScannerConfig {
  mode: GuardMode;
  /** User-Agent patterns: case-insensitive substrings, or `/regex/` (case-insensitive). */
  userAgents: readonly string[];
  /** SDP session names (`s=` line) of known tools, same pattern syntax. */
  sdpSessionNames: readonly string[];
  /** What each signal does. */
  signals: Readonly<Record<ScannerSignal, Readonly<SignalConfig>>>;
  /**
   * Hosts a top Record-Route may name whatever address the request comes from (signal
   * `record_route_foreign`): lower-case domain names and normalised addresses or networks.
   */
  recordRouteHosts: readonly string[];
  /** Score at which a source is banned; each signal adds its points at most once per window. */
  scoreThreshold: number;
  /** Window of the score in ms. */
  scoreWindow: number;
  /** Ban length for `ban` actions and reached thresholds, in ms. */
  ban: number;
}

export const AUTH_ALGORITHMS = ['sha-256', 'md5', 'sha-256-sess', 'md5-sess'] as const;
export type AuthAlgorithmName = (typeof AUTH_ALGORITHMS)[number];

export interface AuthConfig {
  mode: GuardMode;
  /** Realm of challenges for domains not in `realms`. */
  realm: string;
  /** Realm by the From URI's host (lower-case): one realm per domain served. */
  realms: Readonly<Record<string, string>>;
  /** Algorithms offered, one challenge header each, in this order (SHA-256 first, RFC 8760). */
  algorithms: readonly AuthAlgorithmName[];
  /** Methods challenged (never ACK or CANCEL). */
  methods: readonly string[];
  /** Challenge in-dialog requests (To tag) too; default false: the dialog's server checks them. */
  inDialog: boolean;
  /** Where users come from: a file of HA1 lines, or the `users` table of the store's file. */
  source: 'file' | 'store';
  /** Absolute path of the users file (`source: file`). */
  usersFile: string | undefined;
  /** How long a nonce is valid, in ms. */
  nonceLifetime: number;
  /** Key of nonce MACs; undefined: derived from the top-level secret (config or data_dir). */
  secret: string | undefined;
  /** Status of challenges: 401, 407, or `auto` (401 for REGISTER, 407 for the rest). */
  challenge: 'auto' | 401 | 407;
  /** Remove the checked credentials (our realm's only) before forwarding. */
  stripCredentials: boolean;
  /** Challenges sent per second (all sources together), apart from guards.replies_per_second. */
  challengesPerSecond: number;
  /** Nonces whose nonce-counts are tracked at once (replay protection). */
  maxNonces: number;
  /** Whom an authenticated user may claim to be (Kamailio's auth_check flag 1). */
  identity: AuthIdentityConfig;
}

export interface AuthIdentityConfig {
  /** REGISTER's To user, and the From user of other requests, must be the authenticated user or an alias. */
  check: boolean;
  /** By digest username: the other URI users it may claim. */
  aliases: Readonly<Record<string, readonly string[]>>;
}

export interface BruteForceConfig {
  mode: GuardMode;
  /** Failed authentications from one source (within `window`) that get it banned. */
  maxFailures: number;
  /** Window of the failures, in ms. */
  window: number;
  /** Ban length in ms. */
  ban: number;
  /** Answer 404 to a REGISTER or credentialed request as a wrong password (403), and count it. */
  normalizeNotFound: boolean;
  /** Most sources, users and known-good pairs tracked (each table); the oldest are forgotten first. */
  maxEntries: number;
  distributed: Readonly<DistributedGuessingConfig>;
}

export interface DistributedGuessingConfig {
  /** Distinct sources failing for one username (within `window`) that raise the alert. */
  sources: number;
  /** In ms. */
  window: number;
  /** Refuse the username's credentials from sources that never authenticated as it. */
  lock: boolean;
  /** In ms. */
  lockDuration: number;
}

export interface DialScanConfig {
  mode: GuardMode;
  /** In ms. */
  window: number;
  /** Distinct refused destinations one source may try per window; more bans it. */
  maxDestinations: number;
  /** Ban length in ms. */
  ban: number;
  /** Request methods whose Request-URI user counts as a destination. */
  methods: readonly string[];
  /** Final response codes that mean "no such destination". */
  codes: readonly number[];
  /** Most sources tracked at once. */
  maxSources: number;
}

export interface FraudThreshold {
  /** 0: off. */
  warn: number;
  /** 0: off. */
  block: number;
}

export interface FraudConfig {
  mode: GuardMode;
  /** Calls one authenticated user may start per minute. */
  callsPerMinute: Readonly<FraudThreshold>;
  /** Calls one authenticated user may have up at once. */
  concurrentCalls: Readonly<FraudThreshold>;
  /** Calls one user may make to the same number within `window` (ms). */
  repeatedCalls: Readonly<FraudThreshold & { window: number }>;
  /** A call not seen ending is forgotten after this many ms. */
  maxCallDuration: number;
  /** Dialled numbers starting with one of these are refused. */
  denyPrefixes: readonly string[];
  /** When not empty: international numbers (`+`, `00`) must start with one of these. */
  allowPrefixes: readonly string[];
  /** Most users tracked at once. */
  maxUsers: number;
}

export interface GuardsConfig {
  /** Guards in the order they run; a guard not listed does not run. */
  chain: readonly GuardName[];
  /** Answer of every `reply` action. */
  reply: Readonly<GuardReplyConfig>;
  /** Guard answers (all sources together) per second; beyond it they are dropped silently. */
  repliesPerSecond: number;
  acl: Readonly<AclConfig>;
  bans: Readonly<BansGuardConfig>;
  flood: Readonly<FloodConfig>;
  sanity: Readonly<SanityConfig>;
  scanner: Readonly<ScannerConfig>;
  auth: Readonly<AuthConfig>;
  bruteForce: Readonly<BruteForceConfig>;
  dialScan: Readonly<DialScanConfig>;
  fraud: Readonly<FraudConfig>;
}

export interface HoneypotConfig {
  /** Hand sources flagged `honeypot` (guard verdicts, `guards.bans.action`) to the honeypot; else drop them. */
  enabled: boolean;
  /** Server header of the built-in responder, or undefined for none. */
  server: string | undefined;
  /** Digest realm of its REGISTER challenges. */
  realm: string;
  /** Milliseconds after the ACK before the responder ends a call with its own BYE; 0 = never. */
  callDuration: number;
  /** Over UDP, bytes sent to an address that never completed a transaction stay below this × bytes received. */
  amplificationFactor: number;
  /** Requests answered per second and source. */
  repliesPerSecond: number;
  /** Most attack records kept; the oldest last-seen goes first. */
  maxRecords: number;
  /** External honeypot that receives flagged requests instead of the built-in responder. */
  forward: Readonly<Endpoint> | undefined;
}

export interface StoreConfig {
  /** `sqlite` (default: survives restarts) or `memory`. */
  type: 'sqlite' | 'memory';
  /** Absolute path of the SQLite file (default `<data_dir>/sipwarden.db`). */
  path: string;
}

export interface FirewallConfig {
  /** Keep the kernel's banned-address sets filled from the bans (needs root / CAP_NET_ADMIN). */
  sync: boolean;
  backend: 'nftables' | 'iptables';
  /** nftables table name, and prefix of iptables chains and ipsets. */
  table: string;
  /** Other TCP ports the rendered host ruleset keeps open (e.g. SSH). */
  openTcpPorts: readonly number[];
  /** Include the port-scan-slowing rules (TCP flag sanity, ICMP limits, random reject of probes). */
  scanSlowing: boolean;
}

// ---- topology hiding ----

/** What to do with a Server / User-Agent banner: keep, remove, or replace with this text. */
export type BannerConfig = 'keep' | 'remove' | { readonly replace: string };

export interface TopologyHygieneConfig {
  server: BannerConfig;
  userAgent: BannerConfig;
  /** Header names (a trailing `*` is a prefix) removed in this direction. */
  remove: readonly string[];
}

export interface TopologyConfig {
  /** Replace internal Via, Record-Route/Route, Contact (and Call-ID) by tokens towards the outside. */
  hide: boolean;
  /** The 32-byte key from the configuration as 64 hex digits, or undefined: one is kept in `dataDir`. */
  key: string | undefined;
  /** Earlier keys (hex) that still open tokens until a time (ms since the epoch). */
  previousKeys: readonly { readonly key: string; readonly until: number }[];
  /** Hide Call-IDs made on the inside as well. */
  callId: boolean;
  /** Hostnames/addresses of the inside besides the upstream targets (Warning headers naming them are removed). */
  internalHosts: readonly string[];
  /** Hygiene of messages going to the outside. */
  out: Readonly<TopologyHygieneConfig>;
  /** Hygiene of messages going to the inside. */
  in: Readonly<TopologyHygieneConfig & { stripAssertedIdentity: boolean }>;
}

export interface Config {
  listen: readonly Readonly<ListenConfig>[];
  upstreams: readonly Readonly<UpstreamConfig>[];
  /** Name of the upstream that requests go to unless routed otherwise. */
  defaultUpstream: string;
  /** Canonical CIDRs/addresses from `trusted` (upstream target addresses are trusted in addition). */
  trusted: readonly string[];
  limits: Readonly<LimitsConfig>;
  tcp: Readonly<TcpConfig>;
  replies: Readonly<RepliesConfig>;
  /** Flow-token key from the config, or undefined: then `ensureSecret()` keeps one in `dataDir`. */
  secret: string | undefined;
  /** Absolute path of the data directory. */
  dataDir: string;
  log: Readonly<LogConfig>;
  guards: Readonly<GuardsConfig>;
  honeypot: Readonly<HoneypotConfig>;
  store: Readonly<StoreConfig>;
  firewall: Readonly<FirewallConfig>;
  topology: Readonly<TopologyConfig>;
}

/** Command-line flags that override (replace) the file's values. */
export interface CliOverrides {
  /** `--listen URL` (repeatable): replaces `listen`. */
  listen?: string[];
  /** `--upstream URL` (repeatable): replaces `upstreams` by one upstream named `default`. */
  upstream?: string[];
  /** `--log-level LEVEL`: replaces `log.level`. */
  logLevel?: string;
  /** `--tls-cert FILE`: certificate for the tls:// addresses given by --listen. */
  tlsCert?: string;
  /** `--tls-key FILE`: private key for the tls:// addresses given by --listen. */
  tlsKey?: string;
}
