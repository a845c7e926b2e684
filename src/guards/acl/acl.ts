import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { ACCEPT, PASS, type Source, type Verdict } from '../../core/verdict.js';
import { CidrSet, normalizeCidr } from '../../net/cidr.js';
import type { GuardReplyConfig } from '../config.js';
import type { Guard } from '../types.js';
import type { AclConfig } from './config.js';

/** The subset of a logger the guard reports list-file problems to. */
export interface AclLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** How often list files are checked for changes (stat polling survives editors that replace files). */
const WATCH_INTERVAL_MS = 500;

/**
 * Allow and deny lists of addresses and networks, from the configuration and from files that
 * are re-read when they change (a shared blocklist can be dropped in). Lookups probe one hash
 * map per prefix length in use, whatever the size of the lists.
 *
 * A deny entry wins over an allow entry. An allow-listed source skips the rest of the chain.
 */
export class AclGuard implements Guard {
  readonly name = 'acl';
  private allow = new CidrSet();
  private deny = new CidrSet();
  private readonly denied: Verdict;
  private readonly notAllowed: Verdict;
  private readonly watched: string[] = [];
  private readonly onFileChange = (cur: { mtimeMs: number; size: number; ino: number }, prev: typeof cur) => {
    if (cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size || cur.ino !== prev.ino) this.rebuild();
  };

  constructor(
    private readonly config: AclConfig,
    reply: GuardReplyConfig,
    private readonly log: AclLogger,
  ) {
    const block = (rule: string): Verdict =>
      config.action === 'reply'
        ? { action: 'reply', rule, reply: { code: reply.code, reason: reply.reason } }
        : { action: 'drop', rule };
    this.denied = block('deny-list');
    this.notAllowed = block('not-allowed');
    this.rebuild();
    for (const file of [...config.allowFiles, ...config.denyFiles]) {
      if (this.watched.includes(file)) continue;
      this.watched.push(file);
      watchFile(file, { interval: WATCH_INTERVAL_MS, persistent: false }, this.onFileChange);
    }
  }

  /** Entries in force (for the admin API and tests). */
  get lists(): { allow: string[]; deny: string[] } {
    return { allow: [...this.allow], deny: [...this.deny] };
  }

  checkSource(source: Source): Verdict {
    const address = source.address;
    if (this.deny.size > 0 && this.deny.has(address)) return this.denied;
    if (this.allow.size > 0 && this.allow.has(address)) return ACCEPT;
    return this.config.default === 'deny' ? this.notAllowed : PASS;
  }

  /** Re-reads every list file; a file that cannot be read keeps nothing of it (and is reported). */
  rebuild(): void {
    const allow = new CidrSet(this.config.allow);
    const deny = new CidrSet(this.config.deny);
    for (const f of this.config.allowFiles) this.readList(f, allow);
    for (const f of this.config.denyFiles) this.readList(f, deny);
    this.allow = allow;
    this.deny = deny;
    this.log.info({ event: 'acl-loaded', allow: allow.size, deny: deny.size }, 'access lists loaded');
  }

  private readList(file: string, into: CidrSet): void {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      this.log.warn({ event: 'acl-file', file, error: (err as NodeJS.ErrnoException).code }, 'cannot read list file');
      return;
    }
    const lines = text.split('\n');
    let bad = 0;
    for (let i = 0; i < lines.length; i++) {
      const entry = lines[i]!.replace(/[#;].*$/, '').trim();
      if (entry === '') continue;
      try {
        into.add(normalizeCidr(entry));
      } catch (err) {
        // Report the first few bad lines with their number; the rest only counted.
        if (++bad <= 5) this.log.warn({ event: 'acl-file', file, line: i + 1 }, (err as Error).message);
      }
    }
    if (bad > 5) this.log.warn({ event: 'acl-file', file, bad }, 'more lines could not be read');
  }

  close(): void {
    for (const f of this.watched) unwatchFile(f, this.onFileChange);
  }
}
