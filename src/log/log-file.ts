/**
 * The log file as a pino destination that can be reopened: logrotate (without `copytruncate`)
 * renames the file and sends SIGUSR1, and the next line goes to a new file at the same path.
 * Lines are written synchronously, as pino's synchronous destinations do.
 */
import { closeSync, writeSync } from 'node:fs';
import { openPrivateAppend } from '../config/private-file.js';

export class LogFile {
  private fd: number;
  /** Lines that could not be written (a full disk): counted, never thrown at the logger. */
  lost = 0;

  /** Opens `path` as `openPrivateAppend` does (0600, never through a link); throws ConfigError. */
  constructor(readonly path: string) {
    this.fd = openPrivateAppend(path);
  }

  write(line: string): boolean {
    const data = Buffer.from(line, 'utf8');
    try {
      for (let off = 0; off < data.length; ) off += writeSync(this.fd, data, off);
    } catch {
      this.lost++;
    }
    return true;
  }

  /**
   * Opens the path anew and writes there from now on. When it cannot be opened the old file
   * stays in use and the error is thrown (ConfigError naming the file).
   */
  reopen(): void {
    const fd = openPrivateAppend(this.path);
    const old = this.fd;
    this.fd = fd;
    closeSync(old);
  }

  close(): void {
    closeSync(this.fd);
  }
}
