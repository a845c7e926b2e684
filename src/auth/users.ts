/**
 * Who may authenticate: HA1 values by username and realm, never passwords.
 *
 * A user holds an MD5 HA1, a SHA-256 HA1 or both; a challenge for an algorithm the user has
 * no HA1 for fails like a wrong password.
 */
import type { HashName } from './digest.js';

export interface UserRecord {
  /** H(username:realm:password) with MD5, lower-case hex, or undefined. */
  md5: string | undefined;
  /** The same with SHA-256, or undefined. */
  sha256: string | undefined;
}

/** Where the guard looks users up; lookups are in memory (the hot path never waits on I/O). */
export interface UserDirectory {
  find(username: string, realm: string): UserRecord | undefined;
  /** Users held (for logs and tests). */
  readonly size: number;
  close(): void;
}

/** Longest username and realm accepted from a file or the CLI. */
export const MAX_NAME_LENGTH = 128;

export function userKey(username: string, realm: string): string {
  return `${username}\0${realm}`;
}

export function ha1Of(user: UserRecord, hash: HashName): string | undefined {
  return hash === 'md5' ? user.md5 : user.sha256;
}

/** Why a username or realm cannot be stored, or undefined when it can. */
export function nameProblem(what: 'username' | 'realm', text: string): string | undefined {
  if (text.length === 0) return `empty ${what}`;
  if (text.length > MAX_NAME_LENGTH) return `${what} longer than ${MAX_NAME_LENGTH} characters`;
  // ':' separates the columns of the users file; controls, quotes and backslashes would need
  // escaping on the wire. A realm may hold spaces inside ("Example PBX"), a username not.
  const bad = what === 'realm' ? /[\x00-\x1f\x7f:"\\]|^ | $/ : /[\x00-\x20\x7f:"\\]/;
  if (bad.test(text)) return `${what} holds a control character, ':', '"', '\\' or a misplaced space`;
  return undefined;
}

const HEX32 = /^[0-9a-f]{32}$/;
const HEX64 = /^[0-9a-f]{64}$/;

export interface UsersFileProblem {
  line: number;
  message: string;
}

/**
 * Parses a users file:
 *
 *   # comment
 *   user:realm:HA1            32 hex digits: MD5, 64 hex digits: SHA-256
 *   user:realm:md5:HA1        the algorithm written out (md5, sha-256 or sha256)
 *
 * A user may have one line per algorithm. Bad lines are skipped and returned with their number;
 * nothing of a bad line (it may hold a password typed by mistake) is quoted in the problem.
 */
export function parseUsersFile(text: string): { users: Map<string, UserRecord>; problems: UsersFileProblem[] } {
  const users = new Map<string, UserRecord>();
  const problems: UsersFileProblem[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const problem = (message: string) => problems.push({ line: i + 1, message });
    const cols = line.split(':');
    if (cols.length !== 3 && cols.length !== 4) {
      problem('expected user:realm:HA1 or user:realm:ALGORITHM:HA1');
      continue;
    }
    const [username, realm] = cols as [string, string];
    const ha1 = cols[cols.length - 1]!.toLowerCase();
    const bad = nameProblem('username', username) ?? nameProblem('realm', realm);
    if (bad !== undefined) {
      problem(bad);
      continue;
    }
    let hash: HashName | undefined;
    if (cols.length === 4) {
      const alg = cols[2]!.toLowerCase();
      hash = alg === 'md5' ? 'md5' : alg === 'sha-256' || alg === 'sha256' ? 'sha256' : undefined;
      if (hash === undefined) {
        problem('unknown algorithm (md5 or sha-256)');
        continue;
      }
    } else {
      hash = HEX32.test(ha1) ? 'md5' : HEX64.test(ha1) ? 'sha256' : undefined;
    }
    if (hash === undefined || !(hash === 'md5' ? HEX32 : HEX64).test(ha1)) {
      problem('HA1 must be 32 (MD5) or 64 (SHA-256) hex digits');
      continue;
    }
    const key = userKey(username, realm);
    const user = users.get(key) ?? { md5: undefined, sha256: undefined };
    if (hash === 'md5') user.md5 = ha1;
    else user.sha256 = ha1;
    users.set(key, user);
  }
  return { users, problems };
}
