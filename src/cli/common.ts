/** What the file-based subcommands (bans, users, attacks) share: exit codes and error reporting. */
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
