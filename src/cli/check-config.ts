import { parseArgs } from 'node:util';
import { type Config, ConfigError, loadConfig } from '../config/index.js';

export const CHECK_CONFIG_USAGE = `Usage: sipwarden check-config FILE

Loads FILE exactly as 'sipwarden run --config FILE' would (environment substitution, files
it names, every check) without binding anything. Prints "ok" and a summary, or the errors
with file, line and field, and exits 1. Use it before 'systemctl reload sipwarden'.`;

/** Exit status: 0 valid, 1 invalid, 2 usage. */
export function checkConfigCommand(argv: string[], out: (line: string) => void): number {
  let file: string | undefined;
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
    });
    if (values.help) {
      out(CHECK_CONFIG_USAGE);
      return 0;
    }
    if (positionals.length !== 1) throw new Error('give one configuration file');
    file = positionals[0];
  } catch (err) {
    process.stderr.write(`sipwarden: ${(err as Error).message}\n\n${CHECK_CONFIG_USAGE}\n`);
    return 2;
  }
  let config: Config;
  try {
    config = loadConfig({ file });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`sipwarden: ${err.message}\n`);
    return 1;
  }
  out('ok');
  for (const line of summary(config)) out(`  ${line}`);
  return 0;
}

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

/** What the file sets up, one line a part (never a secret or a webhook's URL). */
function summary(config: Config): string[] {
  const g = config.guards;
  return [
    `listen: ${config.listen.map((l) => l.url).join(', ')}`,
    `upstreams: ${config.upstreams.map((u) => `${u.name} (${count(u.targets.length, 'target')})`).join(', ')}; default ${config.defaultUpstream}`,
    `guards: ${g.chain.join(', ') || 'none'}`,
    `store: ${config.store.type}${config.store.type === 'sqlite' ? ` ${config.store.path}` : ''}`,
    `log: ${config.log.level}${config.log.file === undefined ? '' : `, also to ${config.log.file}`}`,
    `honeypot: ${config.honeypot.enabled ? 'on' : 'off'}; firewall sync: ${config.firewall.sync ? config.firewall.backend : 'off'}`,
    `alerts: ${count(config.alerts.webhooks.length, 'webhook')}${config.alerts.webhooks.map((w) => ` ${new URL(w.url).origin} (${w.format})`).join(',')}`,
  ];
}
