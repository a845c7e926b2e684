/**
 * The flow-token key: `secret` from the config, or one generated on first start and kept in
 * `<data_dir>/secret` (mode 0600) so that tokens handed out before a restart stay valid.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fstatSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from './errors.js';
import { MIN_SECRET_LENGTH } from './schema.js';
import type { Config } from './types.js';

export const SECRET_FILE = 'secret';

/**
 * Returns `config.secret`, or the key kept in `<dataDir>/secret`, creating the directory (0700)
 * and the file (0600, 32 random bytes as base64url) when missing. An existing file must hold at
 * least 32 characters and must not be readable or writable by group or others.
 * Throws ConfigError naming the file when it cannot be used.
 */
export function ensureSecret(config: Pick<Config, 'secret' | 'dataDir'>): string {
  if (config.secret !== undefined) return config.secret;
  const file = join(config.dataDir, SECRET_FILE);
  const fail = (message: string, cause?: unknown): never => {
    throw new ConfigError([{ file, line: undefined, path: '', flag: undefined, message }], { cause });
  };
  try {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    fail(`cannot create the data directory: ${(err as Error).message}`, err);
  }
  let fd: number | undefined;
  try {
    // 'wx': only one of several processes starting at once creates it; the others read it.
    fd = openSync(file, 'wx', 0o600);
    const secret = randomBytes(32).toString('base64url');
    writeSync(fd, `${secret}\n`);
    chmodSync(file, 0o600); // in case the umask took bits away from 0600 (it cannot add any)
    return secret;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') fail(`cannot create: ${(err as Error).message}`, err);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  let text = '';
  try {
    fd = openSync(file, 'r');
    if ((fstatSync(fd).mode & 0o077) !== 0) fail('must not be accessible by group or others (chmod 600)');
    text = readFileSync(fd, 'utf8').trim();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    fail(`cannot read: ${(err as Error).message}`, err);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (text.length < MIN_SECRET_LENGTH)
    fail(`must hold at least ${MIN_SECRET_LENGTH} characters (delete it to have a new one made)`);
  return text;
}
