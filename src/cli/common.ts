/** What the file-based subcommands (bans, users, attacks) share: exit codes and error reporting. */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { ConfigError } from '../config/index.js';

export const OK = 0;
export const FAILED = 1;
export const USAGE = 2;

/** A mistake in the command line: reported with a pointer to --help, exit status 2. */
export class UsageError extends Error {}

/**
 * Reports an error of `sipwarden <command>`: usage and configuration errors exit 2 (usage
 * errors with a pointer to --help), anything else 1.
 */
export function reportFailure(command: string, e: unknown, err: (line: string) => void): number {
  if (e instanceof UsageError || e instanceof ConfigError) {
    const usage = e instanceof UsageError ? `\nRun 'sipwarden ${command} --help' for usage.` : '';
    err(`sipwarden ${command}: ${e.message}${usage}`);
    return USAGE;
  }
  err(`sipwarden ${command}: ${(e as Error).message}`);
  return FAILED;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** The parsed values of single (not `multiple`) options. */
export type OptionValues<O extends Options> = { [K in keyof O]?: O[K] extends { type: 'string' } ? string : boolean };

/**
 * Parses `sipwarden <command>`'s arguments (positionals allowed, unknown options refused).
 * Returns the parsed values, or the exit status when there is nothing more to do: `--help`
 * printed the usage (0), or the arguments were wrong (2, with the usage).
 */
export function parseCommandLine<O extends Options>(
  command: string,
  argv: string[],
  usage: string,
  options: O,
  out: (text: string) => void,
  err: (line: string) => void,
): { values: OptionValues<O>; positionals: string[] } | number {
  let parsed: { values: OptionValues<O>; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (e) {
    err(`sipwarden ${command}: ${(e as Error).message}\n\n${usage}`);
    return USAGE;
  }
  if ((parsed.values as Record<string, unknown>).help === true) {
    out(usage);
    return OK;
  }
  return parsed;
}
