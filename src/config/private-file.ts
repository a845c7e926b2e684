/**
 * A small secret kept in the data directory (mode 0600): read when it exists, made on first
 * start otherwise. Of several processes starting at once one creates it and the others read it.
 */
import { chmodSync, closeSync, fstatSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from './errors.js';

/** Throws a ConfigError naming `file`. */
export function privateFileError(file: string, message: string, cause?: unknown): never {
  throw new ConfigError([{ file, line: undefined, path: '', flag: undefined, message }], { cause });
}

/**
 * The text of `<dir>/<name>`, creating the directory (0700) and the file (0600, holding `make()`
 * and a newline) when missing. An existing file must not be readable or writable by group or
 * others. Throws ConfigError naming the file when it cannot be used.
 */
export function readOrCreatePrivateFile(dir: string, name: string, make: () => string): { file: string; text: string } {
  const file = join(dir, name);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    privateFileError(file, `cannot create the data directory: ${(err as Error).message}`, err);
  }
  let fd: number | undefined;
  try {
    fd = openSync(file, 'wx', 0o600);
    const text = make();
    writeSync(fd, `${text}\n`);
    chmodSync(file, 0o600); // in case the umask took bits away from 0600 (it cannot add any)
    return { file, text };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
      privateFileError(file, `cannot create: ${(err as Error).message}`, err);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  try {
    fd = openSync(file, 'r');
    if ((fstatSync(fd).mode & 0o077) !== 0)
      privateFileError(file, 'must not be accessible by group or others (chmod 600)');
    return { file, text: readFileSync(fd, 'utf8').trim() };
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    return privateFileError(file, `cannot read: ${(err as Error).message}`, err);
  } finally {
    closeSync(fd!);
  }
}
