import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { dashboardRoutes } from '../admin/ui.js';
import type { CliOverrides, Config } from '../config/index.js';
import { ConfigError, loadConfig } from '../config/index.js';
import { ensurePrivateDir } from '../config/private-file.js';
import { createLogger, type Logger, reopenLogFile, setLevel } from '../log/index.js';
import { Server } from '../server.js';

export const RUN_USAGE = `Usage: sipwarden run [--config FILE] [--listen URL]... [--upstream URL]... [options]

Runs the proxy. Without --config, --listen and --upstream alone make a working setup:
  sipwarden run --listen udp://0.0.0.0:5060 --upstream udp://10.0.0.10:5060

  --config FILE      YAML configuration (see docs/configuration.md)
  --listen URL       udp://, tcp:// or tls:// address to listen on (repeatable; replaces 'listen')
  --upstream URL     upstream target (repeatable; replaces 'upstreams' by one named 'default')
  --log-level LEVEL  trace, debug, info, warn, error or fatal
  --tls-cert FILE    certificate for tls:// addresses given by --listen
  --tls-key FILE     private key for tls:// addresses given by --listen

Signals: SIGHUP reloads the configuration file and re-reads TLS certificates; SIGUSR1
reopens log.file (after logrotate renamed it); SIGTERM or SIGINT stops gracefully.`;

/** Runs until a stop signal; resolves with the process exit code. */
export async function runCommand(argv: string[]): Promise<number> {
  // Every file sipwarden makes (databases and SQLite's side files, keys, the log) is private,
  // whatever umask it was started with; each is also created 0600 explicitly.
  process.umask(0o077);
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      listen: { type: 'string', multiple: true },
      upstream: { type: 'string', multiple: true },
      'log-level': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${RUN_USAGE}\n`);
    return 0;
  }
  const overrides: CliOverrides = {
    listen: values.listen,
    upstream: values.upstream,
    logLevel: values['log-level'],
    tlsCert: values['tls-cert'],
    tlsKey: values['tls-key'],
  };
  const load = () => loadConfig({ file: values.config, overrides });
  let config: Config;
  try {
    config = load();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`sipwarden: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  try {
    ensurePrivateDir(config.dataDir, 'data_dir');
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`sipwarden: ${err.message}\n`);
    return 1;
  }
  let log: Logger;
  try {
    log = createLogger({ level: config.log.level, file: config.log.file });
  } catch (err) {
    process.stderr.write(`sipwarden: cannot open log.file: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  // From here on, not after the start: a rotation while listeners bind must not end the process
  // (Node's default for SIGUSR1).
  process.on('SIGUSR1', () => reopenLog(log));
  let server: Server | undefined;
  const reload = () => reloadFromFile(server!, log, load);
  try {
    server = await Server.start(config, log, {
      configFile: values.config === undefined ? undefined : resolve(values.config),
      reload,
      registerUi: dashboardRoutes(),
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log.fatal({ event: 'start-failed' }, message);
    process.stderr.write(`sipwarden: ${message}\n`);
    return 1;
  }
  return waitForSignals(server, log, load);
}

function waitForSignals(server: Server, log: Logger, load: () => Config): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ event: 'stopping', signal, stats: server.stats(), transport: server.transports.stats() }, 'stopping');
      server.stop().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => {
      reloadFromFile(server, log, load).catch(() => undefined);
    });
  });
}

/**
 * Rereads the configuration and applies it (SIGHUP, the admin API's `POST /api/reload`). A bad
 * file leaves the running configuration in place; a failure is logged and rejects.
 */
async function reloadFromFile(server: Server, log: Logger, load: () => Config): Promise<void> {
  try {
    const config = load();
    setLevel(log, config.log.level);
    await server.reload(config);
  } catch (err) {
    log.error({ event: 'reload-failed' }, err instanceof Error ? err.message : String(err));
    throw err;
  }
}

/** SIGUSR1: logrotate renamed log.file; new lines go to a new file at its path. */
function reopenLog(log: Logger): void {
  try {
    if (reopenLogFile(log)) log.info({ event: 'log-reopened' }, 'log file reopened');
  } catch (err) {
    // The renamed file keeps receiving lines: nothing is lost.
    log.error({ event: 'log-reopen-failed' }, err instanceof Error ? err.message : String(err));
  }
}
