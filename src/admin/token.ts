/**
 * The admin API's bearer token: `admin.token` from the configuration, or one generated on
 * first start and kept in `<data_dir>/admin-token` (mode 0600) and reused, so the CLI on the
 * same host (and a dashboard login) keep working across restarts.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { privateFileError, readOrCreatePrivateFile } from '../config/private-file.js';
import { MIN_ADMIN_TOKEN_LENGTH } from './config.js';

export const ADMIN_TOKEN_FILE = 'admin-token';

/** Returns the configured token, or the one kept in `<dataDir>/admin-token` (made when missing). */
export function ensureAdminToken(token: string | undefined, dataDir: string): string {
  if (token !== undefined) return token;
  const { file, text } = readOrCreatePrivateFile(dataDir, ADMIN_TOKEN_FILE, () =>
    randomBytes(32).toString('base64url'),
  );
  if (text.length < MIN_ADMIN_TOKEN_LENGTH) {
    privateFileError(
      file,
      `must hold at least ${MIN_ADMIN_TOKEN_LENGTH} characters (delete it to have a new one made)`,
    );
  }
  return text;
}

/**
 * The token kept in `<dataDir>/admin-token`, for the CLI: undefined when there is no such file
 * or it cannot be read (never created here, never through a symbolic link).
 */
export function readAdminToken(dataDir: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(join(dataDir, ADMIN_TOKEN_FILE), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    if (!fstatSync(fd).isFile()) return undefined;
    const text = readFileSync(fd, 'utf8').trim();
    return text === '' ? undefined : text;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
