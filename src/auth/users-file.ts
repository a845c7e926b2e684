/** Users from a file, re-read when it changes (stat polling, as the acl guard's list files). */
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { parseUsersFile, type UserDirectory, type UserRecord, userKey } from './users.js';

/** The subset of a logger the users sources report to. */
export interface AuthLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

const WATCH_INTERVAL_MS = 500;
/** Bad lines reported one by one; the rest are counted. */
const REPORTED_PROBLEMS = 5;

export class FileUserDirectory implements UserDirectory {
  private users = new Map<string, UserRecord>();
  private readonly onFileChange = (cur: { mtimeMs: number; size: number; ino: number }, prev: typeof cur) => {
    if (cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size || cur.ino !== prev.ino) this.reload();
  };

  constructor(
    readonly file: string,
    private readonly log: AuthLogger,
  ) {
    this.reload();
    watchFile(file, { interval: WATCH_INTERVAL_MS, persistent: false }, this.onFileChange);
  }

  get size(): number {
    return this.users.size;
  }

  find(username: string, realm: string): UserRecord | undefined {
    return this.users.get(userKey(username, realm));
  }

  /** Re-reads the file. A file that cannot be read leaves no user (every request is challenged). */
  reload(): void {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      this.users = new Map();
      this.log.warn(
        { event: 'auth-users-file', file: this.file, error: (err as NodeJS.ErrnoException).code },
        'cannot read the users file',
      );
      return;
    }
    const { users, problems } = parseUsersFile(text);
    for (const p of problems.slice(0, REPORTED_PROBLEMS)) {
      this.log.warn({ event: 'auth-users-file', file: this.file, line: p.line }, p.message);
    }
    if (problems.length > REPORTED_PROBLEMS) {
      this.log.warn(
        { event: 'auth-users-file', file: this.file, bad: problems.length },
        'more lines could not be read',
      );
    }
    this.users = users;
    this.log.info({ event: 'auth-users-loaded', file: this.file, users: users.size }, 'users loaded');
  }

  close(): void {
    unwatchFile(this.file, this.onFileChange);
  }
}
