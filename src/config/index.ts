export type { SourcesConfig } from '../guards/config.js';
export type { LogConfig } from '../log/config.js';
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
export { MIN_SECRET_LENGTH } from './fields.js';
export { type CliOverrides, type LoadOptions, loadConfig, loadConfigFromString } from './loader.js';
export type {
  LimitsConfig,
  ListenConfig,
  PingConfig,
  RepliesConfig,
  TcpConfig,
  UpstreamConfig,
  UpstreamTlsConfig,
} from './proxy-config.js';
export { DEFAULT_DATA_DIR } from './proxy-config.js';
export { type Config, schemaKeyPaths } from './schema.js';
export { ensureSecret, SECRET_FILE } from './secret.js';
export { buildTrustedSet } from './trusted.js';
