export { formatDuration, MAX_DURATION_MS, parseDuration } from './duration.js';
export {
  DEFAULT_PORTS,
  type Endpoint,
  EndpointError,
  type EndpointOptions,
  type HostPort,
  parseEndpoint,
  parseHostPort,
  type Transport,
} from './endpoint.js';
export type { Env } from './env.js';
export { ConfigError, type ConfigIssue, formatIssue } from './errors.js';
export { type LoadOptions, loadConfig, loadConfigFromString } from './loader.js';
export { DEFAULTS, MIN_SECRET_LENGTH, schemaKeyPaths } from './schema.js';
export { ensureSecret, SECRET_FILE } from './secret.js';
export { buildTrustedSet } from './trusted.js';
export type {
  CliOverrides,
  Config,
  LimitsConfig,
  ListenConfig,
  LogConfig,
  PingConfig,
  RepliesConfig,
  SourcesConfig,
  TcpConfig,
  UpstreamConfig,
} from './types.js';
