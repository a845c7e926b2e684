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
}

export interface TcpConfig {
  /** Milliseconds without traffic before an inbound TCP/TLS connection is closed. */
  idleTimeout: number;
  /** Milliseconds allowed for an outbound TCP connect and TLS handshake. */
  connectTimeout: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
}

export interface RepliesConfig {
  /** 400 answers to malformed requests per second (all sources together); 0 = never answer. */
  badRequestPerSecond: number;
}

export interface LogConfig {
  level: LogLevel;
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
