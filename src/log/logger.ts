/**
 * Structured logs: one JSON object per line, on stdout by default.
 *
 * ```json
 * {"level":"info","time":"2025-01-01T12:00:00.000Z","msg":"listening","url":"udp://0.0.0.0:5060"}
 * ```
 *
 * JSON escaping keeps attacker-controlled strings from breaking a line (U+2028/U+2029, which
 * JSON allows raw, are escaped too); `sanitize` is for plain-text lines. Keys named `secret`, `token`, `password` or `authorization` (at the top
 * level or one level down) are written as `[redacted]`.
 */
import pino from 'pino';
import { LogFile } from './log-file.js';

export { sanitize } from './sanitize.js';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type Logger = pino.Logger;

export interface LoggerOptions {
  /** Initial level; `silent` writes nothing. Default `info`. */
  level?: LogLevel | 'silent';
  /** Where lines go: a writable stream, or a file descriptor. Default: stdout (fd 1), written synchronously. */
  destination?: NodeJS.WritableStream | number;
  /**
   * A file to append every line to as well (created 0600 with its directory 0700 when missing;
   * a link at its name is refused).
   */
  file?: string;
  /** Fields written on every line (e.g. `{ node: 'edge-1' }`). Default: none. */
  bindings?: Record<string, unknown>;
}

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value);
}

const REDACT = ['secret', 'token', 'password', 'authorization'].flatMap((k) => [k, `*.${k}`]);

/**
 * JSON.stringify leaves U+2028/U+2029 raw (valid JSON), yet some log viewers and JavaScript
 * line splitters break lines there. They can only occur inside JSON strings, where the
 * `\u2028` escape means the same: the line stays valid JSON with the same content.
 */
function escapeSeparators(line: string): string {
  if (line.indexOf('\u2028') < 0 && line.indexOf('\u2029') < 0) return line;
  return line.replace(/[\u2028\u2029]/g, (c) => (c === '\u2028' ? '\\u2028' : '\\u2029'));
}

/** Every logger of one `createLogger` call: the root and all its (grand)children, weakly held. */
interface Family {
  refs: Set<WeakRef<Logger>>;
  registry: FinalizationRegistry<WeakRef<Logger>>;
  /** `options.file`, when given: reopened by `reopenLogFile`. */
  file?: LogFile;
}
const familySym = Symbol('sipwarden.logFamily');
type WithFamily = Logger & { [familySym]?: Family };

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  if (level !== 'silent' && !isLogLevel(level)) throw new Error(`unknown log level ${JSON.stringify(level)}`);
  const refs = new Set<WeakRef<Logger>>();
  const family: Family = { refs, registry: new FinalizationRegistry((ref) => refs.delete(ref)) };
  const dest = options.destination;
  const primary =
    dest === undefined
      ? pino.destination({ dest: 1, sync: true })
      : typeof dest === 'number'
        ? pino.destination({ dest, sync: true })
        : (dest as pino.DestinationStream);
  // Created 0600 (its directory 0700), never through a link planted under its name.
  if (options.file !== undefined) family.file = new LogFile(options.file);
  // Every stream takes every line: the logger's own level does the filtering.
  const stream =
    family.file === undefined
      ? primary
      : pino.multistream([
          { level: 'trace', stream: primary },
          { level: 'trace', stream: family.file },
        ]);
  const logger = pino(
    {
      level,
      base: options.bindings ?? null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT, censor: '[redacted]' },
      hooks: { streamWrite: escapeSeparators },
      onChild: (child) => {
        const ref = new WeakRef(child);
        refs.add(ref);
        family.registry.register(child, ref);
      },
    },
    stream,
  ) as WithFamily;
  Object.defineProperty(logger, familySym, { value: family });
  return logger;
}

/**
 * Reopens the `file` of a logger made by `createLogger` (or of its family): after logrotate
 * renamed it, new lines go to a new file at the same path. False when it has no file; throws
 * (ConfigError naming the file) when the path cannot be opened, and keeps writing the old one.
 */
export function reopenLogFile(logger: Logger): boolean {
  const file = familyOf(logger)?.file;
  if (file === undefined) return false;
  file.reopen();
  return true;
}

/** The family of a logger made by `createLogger`, from the root or any descendant. */
function familyOf(logger: Logger): Family | undefined {
  return (logger as WithFamily)[familySym];
}

/**
 * Changes the level of a logger made by `createLogger`, and of every child logger derived from
 * it (pino's children otherwise keep the level they were created with), e.g. on config reload.
 * Given a child, it changes the whole family.
 */
export function setLevel(logger: Logger, level: LogLevel | 'silent'): void {
  if (level !== 'silent' && !isLogLevel(level)) throw new Error(`unknown log level ${JSON.stringify(level)}`);
  const family = familyOf(logger);
  if (!family) {
    logger.level = level;
    return;
  }
  // Children are created with Object.create(parent): the root is the one owning the family.
  let root: Logger = logger;
  for (let p: unknown = logger; p && typeof p === 'object'; p = Object.getPrototypeOf(p)) {
    if (Object.hasOwn(p, familySym)) {
      root = p as Logger;
      break;
    }
  }
  root.level = level;
  for (const ref of family.refs) {
    const child = ref.deref();
    if (child) child.level = level;
    else family.refs.delete(ref);
  }
}
