/**
 * The topology key: 32 bytes from the configuration (64 hex digits or base64), or one made on
 * first start and kept in `<data_dir>/topology.key` (mode 0600), so tokens handed out before a
 * restart still open. Several instances restoring each other's tokens need the same key in
 * their configuration.
 */
import { randomBytes } from 'node:crypto';
import { privateFileError, readOrCreatePrivateFile } from '../config/private-file.js';

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
  const { file, text } = readOrCreatePrivateFile(dataDir, TOPOLOGY_KEY_FILE, () =>
    randomBytes(TOPOLOGY_KEY_BYTES).toString('hex'),
  );
  return (
    parseTopologyKey(text) ??
    privateFileError(file, 'must hold 32 bytes as 64 hex digits (delete it to have a new one made)')
  );
}
