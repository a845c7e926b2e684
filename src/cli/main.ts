import { createRequire } from 'node:module';
import { attacksCommand } from './attacks.js';
import { bansCommand } from './bans.js';
import { checkConfigCommand } from './check-config.js';
import { checkMessageCommand } from './check-message.js';
import { firewallCommand } from './firewall.js';
import { runCommand } from './run.js';
import { statusCommand } from './status.js';
import { usersCommand } from './users.js';

const USAGE = `sipwarden — SIP security edge proxy

Usage: sipwarden <command> [options]

Commands:
  run                     run the proxy (see 'sipwarden run --help')
  status                  summary of a running sipwarden (its admin API)
  check-config FILE       check a configuration file as 'run' would, bind nothing
  check-message FILE...   parse raw SIP messages and print what sipwarden sees
  bans COMMAND            list, add, remove or flush bans (of the running sipwarden, else the file)
  users COMMAND           add, remove or list edge-auth users (also while sipwarden runs)
  attacks COMMAND         list, show or export what sources in the honeypot tried
  firewall BACKEND        print a host firewall ruleset (BACKEND: nftables or iptables)
  version                 print the version

Run 'sipwarden <command> --help' for a command's options.`;

function version(): string {
  const require = createRequire(import.meta.url);
  return (require('../../../package.json') as { version: string }).version;
}

/**
 * `sipwarden bans list | head`: once the reader is gone, the rest of the output is dropped
 * instead of ending the command with an EPIPE stack trace. (`run` logs through its logger.)
 */
function stopWritingOnClosedPipe(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
  });
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const out = (line: string) => process.stdout.write(`${line}\n`);
  if (command !== 'run') stopWritingOnClosedPipe();
  // The commands that create files (databases, keys, the log) make them private whatever the
  // umask; each file is also created 0600 explicitly.
  if (command === 'run' || command === 'bans' || command === 'users' || command === 'attacks') process.umask(0o077);
  switch (command) {
    case 'run':
      return runCommand(rest);
    case 'status':
      return statusCommand(rest, out);
    case 'check-config':
      return checkConfigCommand(rest, out);
    case 'check-message':
      return checkMessageCommand(rest, out);
    case 'bans':
      return bansCommand(rest, out);
    case 'users':
      return usersCommand(rest, out);
    case 'attacks':
      return attacksCommand(rest, (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`));
    case 'firewall':
      return firewallCommand(rest, (text) => process.stdout.write(text));
    case 'version':
    case '--version':
      out(version());
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      out(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`sipwarden: unknown command '${command}'\n\n${USAGE}\n`);
      return 2;
  }
}
