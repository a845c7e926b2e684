/**
 * The flow-token key: `secret` from the config, or one generated on first start and kept in
 * `<data_dir>/secret` (mode 0600) so that tokens handed out before a restart stay valid.
 */
import { randomBytes } from 'node:crypto';
import { MIN_SECRET_LENGTH } from './fields.js';
import { privateFileError, readOrCreatePrivateFile } from './private-file.js';
import type { Config } from './schema.js';

export const SECRET_FILE = 'secret';

/**
 * Returns `config.secret`, or the key kept in `<dataDir>/secret`, creating the directory (0700)
 * and the file (0600, 32 random bytes as base64url) when missing. An existing file must hold at
 * least 32 characters and must not be readable or writable by group or others.
 * Throws ConfigError naming the file when it cannot be used.
 */
export function ensureSecret(config: Pick<Config, 'secret' | 'dataDir'>): string {
  if (config.secret !== undefined) return config.secret;
  const { file, text } = readOrCreatePrivateFile(config.dataDir, SECRET_FILE, () =>
    randomBytes(32).toString('base64url'),
  );
  if (text.length < MIN_SECRET_LENGTH) {
    privateFileError(file, `must hold at least ${MIN_SECRET_LENGTH} characters (delete it to have a new one made)`);
  }
  return text;
}
