export {
  createLogger,
  isLogLevel,
  LOG_LEVELS,
  type Logger,
  type LoggerOptions,
  type LogLevel,
  reopenLogFile,
  setLevel,
} from './logger.js';
export { sanitize } from './sanitize.js';
