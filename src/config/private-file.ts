/**
 * The files sipwarden keeps: the flow-token secret and topology key, the SQLite databases (bans,
 * users' HA1 values, attack records) and the log file. All of them are made 0600 in
 * directories made 0700, whatever the umask, and never through a symbolic link: the data
 * directory is often shared with another account (a service user, root running the CLI), and
 * a link planted as `sipwarden.db` would have sipwarden create or write the file it points to.
 */
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  type Stats,
  statSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError } from './errors.js';

const { O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_WRONLY } = constants;

/** The files SQLite keeps next to a database (sqlite.org/tempfiles.html). */
export const SQLITE_SIDE_FILES = ['-wal', '-shm', '-journal'] as const;

/** Throws a ConfigError naming `file`. */
export function privateFileError(file: string, message: string, cause?: unknown): never {
  throw new ConfigError([{ file, line: undefined, path: '', flag: undefined, message }], { cause });
}

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

const LINK = 'is a symbolic link: sipwarden never follows a link at a file it keeps (remove the link)';

/**
 * Makes sure `dir` can hold private files: creates it (and missing parents) 0700 when
 * missing, and refuses one that group or others may write, since whoever can write there can
 * replace the keys and password hashes or plant links. `what` names it in the error
 * (`data_dir`). Throws ConfigError naming the directory and the fix.
 */
export function ensurePrivateDir(dir: string, what = 'the directory'): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    privateFileError(dir, `cannot create ${what}: ${(err as Error).message}`, err);
  }
  let st: Stats;
  try {
    st = statSync(dir);
  } catch (err) {
    privateFileError(dir, `cannot check ${what}: ${(err as Error).message}`, err);
  }
  if (!st.isDirectory()) privateFileError(dir, `${what} is not a directory`);
  const writable = st.mode & 0o022;
  if (writable !== 0) {
    const who = writable === 0o022 ? 'group and others' : writable === 0o020 ? 'group' : 'others';
    privateFileError(
      dir,
      `${what} is writable by ${who} (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}), who could replace ` +
        `sipwarden's keys and password hashes there: run chmod 700 ${dir} (or at least chmod go-w)`,
    );
  }
}

/**
 * Prepares `file` for a program that will open it by name (SQLite): creates it 0600 when
 * missing (with `create`; otherwise "no such file"), without following a link; an existing
 * one must be a regular file, not a link, and is made 0600. Throws ConfigError naming it.
 */
export function preparePrivateFile(file: string, create: boolean): void {
  // Twice at most: a file that appears between the check and the creation is checked again.
  for (let attempt = 0; attempt < 2; attempt++) {
    const st = lstatOrUndefined(file);
    if (st === undefined) {
      if (!create) privateFileError(file, 'no such file');
      let fd: number;
      try {
        fd = openSync(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK, 0o600);
      } catch (err) {
        if (code(err) === 'EEXIST') continue;
        privateFileError(file, `cannot create: ${(err as Error).message}`, err);
      }
      try {
        fchmodSync(fd, 0o600); // the umask may have taken bits away from 0600 (it cannot add any)
      } finally {
        closeSync(fd);
      }
      return;
    }
    makeExistingPrivate(file, st);
    return;
  }
  privateFileError(file, 'changed while it was being checked');
}

/**
 * `preparePrivateFile` for an SQLite database, and its side files (`-wal`, `-shm`,
 * `-journal`): SQLite creates those itself, with the database's mode, but would follow a link
 * planted under their names. Existing ones must be regular files and are made 0600.
 */
export function prepareSqliteFiles(file: string, create: boolean): void {
  preparePrivateFile(file, create);
  for (const suffix of SQLITE_SIDE_FILES) {
    const side = `${file}${suffix}`;
    const st = lstatOrUndefined(side);
    if (st !== undefined) makeExistingPrivate(side, st);
  }
}

/**
 * Opens `file` for appending (the log file), creating it 0600 and its directory 0700 when
 * missing, never through a link. An existing file keeps the read access an operator gave it,
 * but not write access for group or others (anyone could write fail2ban's ban lines).
 * Returns the file descriptor. Throws ConfigError naming the file.
 */
export function openPrivateAppend(file: string): number {
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  } catch (err) {
    privateFileError(file, `cannot create its directory: ${(err as Error).message}`, err);
  }
  const existed = lstatOrUndefined(file) !== undefined;
  let fd: number;
  try {
    fd = openSync(file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o600);
  } catch (err) {
    return privateFileError(file, code(err) === 'ELOOP' ? LINK : `cannot open: ${(err as Error).message}`, err);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) privateFileError(file, 'is not a regular file');
    if (!existed) fchmodSync(fd, 0o600);
    else if ((st.mode & 0o022) !== 0) fchmodSync(fd, st.mode & 0o755);
    return fd;
  } catch (err) {
    closeSync(fd);
    if (err instanceof ConfigError) throw err;
    return privateFileError(file, `cannot make it private: ${(err as Error).message}`, err);
  }
}

function lstatOrUndefined(file: string): Stats | undefined {
  try {
    return lstatSync(file);
  } catch (err) {
    if (code(err) === 'ENOENT') return undefined;
    return privateFileError(file, `cannot check: ${(err as Error).message}`, err);
  }
}

/** An existing file: a regular one, not a link, made 0600 through a descriptor (no race with a swap). */
function makeExistingPrivate(file: string, st: Stats): void {
  if (st.isSymbolicLink()) privateFileError(file, LINK);
  if (!st.isFile()) privateFileError(file, 'is not a regular file');
  let fd: number;
  try {
    fd = openSync(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (err) {
    privateFileError(file, code(err) === 'ELOOP' ? LINK : `cannot open: ${(err as Error).message}`, err);
  }
  try {
    const now = fstatSync(fd);
    if (!now.isFile()) privateFileError(file, 'is not a regular file');
    if ((now.mode & 0o077) !== 0) fchmodSync(fd, 0o600);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    // Another account's file (root reading the service's): its own sipwarden makes it private.
    if (code(err) === 'EPERM') return;
    privateFileError(file, `cannot make it private (chmod 600): ${(err as Error).message}`, err);
  } finally {
    closeSync(fd);
  }
}

/**
 * The text of `<dir>/<name>`, creating the directory (0700) and the file (0600, holding `make()`
 * and a newline) when missing. An existing file must be a regular file (not a link) that
 * group and others can neither read nor write. Throws ConfigError naming the file when it
 * cannot be used.
 */
export function readOrCreatePrivateFile(dir: string, name: string, make: () => string): { file: string; text: string } {
  const file = join(dir, name);
  ensurePrivateDir(dir, 'the data directory');
  let fd: number | undefined;
  try {
    fd = openSync(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    const text = make();
    writeSync(fd, `${text}\n`);
    fchmodSync(fd, 0o600); // in case the umask took bits away from 0600 (it cannot add any)
    return { file, text };
  } catch (err) {
    if (code(err) !== 'EEXIST') privateFileError(file, `cannot create: ${(err as Error).message}`, err);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  fd = undefined;
  try {
    fd = openSync(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    const st = fstatSync(fd);
    if (!st.isFile()) privateFileError(file, 'is not a regular file');
    if ((st.mode & 0o077) !== 0) privateFileError(file, 'must not be accessible by group or others (chmod 600)');
    return { file, text: readFileSync(fd, 'utf8').trim() };
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    return privateFileError(file, code(err) === 'ELOOP' ? LINK : `cannot read: ${(err as Error).message}`, err);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
