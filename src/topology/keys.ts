/**
 * The topology key: 32 bytes from the configuration (64 hex digits or base64), or one made on
 * first start and kept in `<data_dir>/topology.key` (mode 0600), so tokens handed out before a
 * restart still open. Several instances restoring each other's tokens need the same key in
 * their configuration.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fstatSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../config/errors.js';

export const TOPOLOGY_KEY_FILE = 'topology.key';
export const TOPOLOGY_KEY_BYTES = 32;

/** 32 bytes from 64 hex digits or base64 / base64url (padding optional); undefined otherwise. */
export function parseTopologyKey(text: string): Buffer | undefined {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
  if (!/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(t)) return undefined;
  const key = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return key.length === TOPOLOGY_KEY_BYTES ? key : undefined;
}

/**
 * The configured key, or the one kept in `<dataDir>/topology.key`, creating it (32 random
 * bytes as hex) when missing. Throws ConfigError naming the file when it cannot be used.
 */
export function ensureTopologyKey(configured: Buffer | undefined, dataDir: string): Buffer {
  if (configured !== undefined) return configured;
  const file = join(dataDir, TOPOLOGY_KEY_FILE);
  const fail = (message: string, cause?: unknown): never => {
    throw new ConfigError([{ file, line: undefined, path: '', flag: undefined, message }], { cause });
  };
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    fail(`cannot create the data directory: ${(err as Error).message}`, err);
  }
  let fd: number | undefined;
  try {
    // 'wx': of several processes starting at once, one creates the key and the others read it.
    fd = openSync(file, 'wx', 0o600);
    const key = randomBytes(TOPOLOGY_KEY_BYTES);
    writeSync(fd, `${key.toString('hex')}\n`);
    chmodSync(file, 0o600);
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') fail(`cannot create: ${(err as Error).message}`, err);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  let text = '';
  try {
    fd = openSync(file, 'r');
    if ((fstatSync(fd).mode & 0o077) !== 0) fail('must not be accessible by group or others (chmod 600)');
    text = readFileSync(fd, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    fail(`cannot read: ${(err as Error).message}`, err);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return parseTopologyKey(text) ?? fail('must hold 32 bytes as 64 hex digits (delete it to have a new one made)');
}
