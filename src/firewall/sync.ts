/**
 * Keeps the kernel's banned-source sets (see nftables.ts / iptables.ts) filled with sipwarden's
 * bans, so that a banned flood is dropped by the kernel before it costs sipwarden anything.
 *
 * - Changes are collected for `batchDelay` ms and applied by one `nft -f -` (or
 *   `ipset restore -exist`) process per batch, never one process per ban. Pending work is a set
 *   of targets to bring up to date from a mirror of the active bans, so a burst of changes to
 *   one target costs one line, and memory is bounded by the bans themselves.
 * - Each element carries the ban's remaining time as its kernel timeout: the kernel lifts it
 *   on its own, so expiries cost no process. Bans longer than the kernel's longest timeout
 *   (about 24 days) are refreshed before the kernel forgets them.
 * - Single addresses go to the `banned_v4`/`banned_v6` hash sets, networks to the
 *   `banned_net_*` interval sets (nftables); iptables uses one hash:net ipset per family for
 *   both. A /0 "network" is never loaded: it would cut the host off.
 * - Failures are logged once per kind with the fix, counted, and never thrown. When the
 *   table or sets are missing or permission is lacking, everything is loaded again every
 *   `retryDelay` ms, so loading the ruleset after sipwarden started is enough. A batch the
 *   kernel refuses for one element (an interval overlapping another) is split in halves until
 *   the element is found; the rest is applied.
 */
import { spawn } from 'node:child_process';
import { parseCidr } from '../net/cidr.js';
import type { Ban, BanChange } from '../store/types.js';
import { iptablesNames, NFT_SETS } from './names.js';

export interface FirewallSyncOptions {
  backend: 'nftables' | 'iptables';
  /** nftables table (`inet`), or the prefix of the ipsets; as in the rendered ruleset. */
  table: string;
  /** Command prefix, e.g. `['ip', 'netns', 'exec', NS]` or `['sudo', '-n']`. */
  exec?: readonly string[];
  /** Milliseconds changes are collected before they are applied (default 100). */
  batchDelay?: number;
  /** Milliseconds between attempts to load everything after the sets were missing (default 30 s). */
  retryDelay?: number;
  /** Milliseconds a tool may run before it is killed (default 15 s). */
  timeout?: number;
  /** Most targets written by one process (default 5000). */
  chunk?: number;
}

export interface FirewallSyncLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface FirewallSyncStats {
  /** Elements added, refreshed or removed in the kernel. */
  applied: number;
  /** Elements the kernel refused, or that could not be written because the tool failed. */
  failed: number;
  /** Tool runs. */
  runs: number;
  /** Tool runs that failed. */
  errors: number;
  /** Bans not loaded because their target cannot be (a /0 network, not an address). */
  skipped: number;
  /** Targets waiting for the next batch. */
  pending: number;
  /** Active bans known to the sync. */
  bans: number;
}

/** Longest kernel timeout used, in seconds (ipset's limit; nftables takes it too). */
export const MAX_KERNEL_TIMEOUT_S = 2_147_483;
/** How often long bans are refreshed (well inside MAX_KERNEL_TIMEOUT_S). */
const REFRESH_MS = 6 * 3600_000;
/** Most tool runs spent splitting one refused batch. */
const MAX_SPLIT_RUNS = 64;
const MAX_STDERR = 4096;

type ErrorKind = 'missing-tool' | 'permission' | 'missing-set' | 'timeout' | 'refused';

interface Element {
  /** Canonical address or network. */
  text: string;
  family: 4 | 6;
  network: boolean;
}

interface RunResult {
  ok: boolean;
  kind: ErrorKind | undefined;
  message: string;
}

/** One target's lines in a batch. */
interface Item {
  element: Element;
  /** Remaining seconds, or 0 to remove it. */
  seconds: number;
}

function toElement(target: string): Element | undefined {
  try {
    const c = parseCidr(target);
    if (c.bits === 0) return undefined;
    return { text: c.text, family: c.family, network: c.bits < (c.family === 4 ? 32 : 128) };
  } catch {
    return undefined;
  }
}

export class FirewallSync {
  private readonly backend: 'nftables' | 'iptables';
  private readonly table: string;
  private readonly prefix: readonly string[];
  private readonly batchDelay: number;
  private readonly retryDelay: number;
  private readonly timeout: number;
  private readonly chunk: number;
  private readonly ipsets: { 4: string; 6: string };

  /** Active bans: canonical target -> expiry (epoch ms). */
  private readonly bans = new Map<string, number>();
  /** Targets whose kernel state must be brought up to date with `bans`. */
  private readonly dirty = new Set<string>();
  /** Empty the sets and load every ban (start, flush, recovery). */
  private reloadAll = false;
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closed = false;
  private lastError: ErrorKind | undefined;
  private lastRefusedLog = -Infinity;
  private readonly counters = { applied: 0, failed: 0, runs: 0, errors: 0, skipped: 0 };
  private readonly skippedTargets = new Set<string>();

  constructor(
    options: FirewallSyncOptions,
    private readonly log: FirewallSyncLog,
  ) {
    if (options.backend !== 'nftables' && options.backend !== 'iptables') {
      throw new Error(`unknown firewall backend ${JSON.stringify(options.backend)}`);
    }
    if (!/^[a-z][a-z0-9_]{0,23}$/.test(options.table)) {
      throw new Error(`bad table name ${JSON.stringify(options.table)}`);
    }
    this.backend = options.backend;
    this.table = options.table;
    this.prefix = options.exec ?? [];
    this.batchDelay = options.batchDelay ?? 100;
    this.retryDelay = options.retryDelay ?? 30_000;
    this.timeout = options.timeout ?? 15_000;
    this.chunk = Math.max(1, options.chunk ?? 5000);
    const names = iptablesNames(options.table);
    this.ipsets = { 4: names.banned4, 6: names.banned6 };
  }

  /** Empties the kernel's sets and loads `bans` (the store's active bans). */
  start(bans: readonly Ban[], now = Date.now()): void {
    if (this.closed) return;
    this.bans.clear();
    this.dirty.clear();
    for (const ban of bans) if (ban.expires > now) this.remember(ban.target, ban.expires);
    this.reloadAll = true;
    this.log.info(
      { event: 'firewall-sync', backend: this.backend, table: this.table, bans: this.bans.size },
      `firewall sync: loading ${this.bans.size} ban${this.bans.size === 1 ? '' : 's'} into the ${this.backend} sets of ${this.table}`,
    );
    this.schedule(0);
  }

  /** Applies one change of the ban store (wire to `BanStore.onChange`). Never throws. */
  onChange(change: BanChange): void {
    if (this.closed) return;
    try {
      this.record(change);
    } catch (err) {
      this.log.warn(
        { event: 'firewall-sync-error', kind: 'bad-change' },
        `firewall sync: ignored a ban change: ${String(err)}`,
      );
      return;
    }
    this.schedule(this.batchDelay);
  }

  private record(change: BanChange): void {
    switch (change.kind) {
      case 'added': {
        const key = this.remember(change.ban.target, change.ban.expires);
        if (key !== undefined) this.markDirty(key);
        break;
      }
      case 'removed': {
        // Removed from the kernel even when not known here (added by another process before start).
        const el = toElement(change.target);
        if (el) {
          this.bans.delete(el.text);
          this.markDirty(el.text);
        }
        break;
      }
      case 'expired': {
        // The kernel's timeout lifts it at the same time; only forget it.
        const el = toElement(change.ban.target);
        if (el && this.bans.get(el.text) === change.ban.expires) this.bans.delete(el.text);
        break;
      }
      case 'flushed':
        this.bans.clear();
        this.dirty.clear();
        this.reloadAll = true;
        break;
    }
  }

  stats(): FirewallSyncStats {
    return { ...this.counters, pending: this.dirty.size + (this.reloadAll ? this.bans.size : 0), bans: this.bans.size };
  }

  /** Resolves when everything pending has been applied (or has failed). */
  async idle(): Promise<void> {
    for (;;) {
      if (this.running) {
        await this.running;
        continue;
      }
      if (this.timer === undefined || (!this.reloadAll && this.dirty.size === 0)) return;
      clearTimeout(this.timer);
      this.timer = undefined;
      await this.apply();
    }
  }

  /** Applies the last batch and stops; later changes are ignored. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.idle();
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.retryTimer);
    clearInterval(this.refreshTimer);
    this.timer = undefined;
  }

  private remember(target: string, expires: number): string | undefined {
    const el = toElement(target);
    if (!el) {
      this.counters.skipped++;
      if (this.skippedTargets.size < 100 && !this.skippedTargets.has(target)) {
        this.skippedTargets.add(target);
        this.log.warn(
          { event: 'firewall-sync-skip', target: String(target).slice(0, 64) },
          'firewall sync: this ban is not loaded into the firewall (a /0 network would cut the host off)',
        );
      }
      return undefined;
    }
    this.bans.set(el.text, expires);
    if (expires - Date.now() > MAX_KERNEL_TIMEOUT_S * 1000 && this.refreshTimer === undefined) {
      this.refreshTimer = setInterval(() => this.refreshLong(), REFRESH_MS);
      this.refreshTimer.unref();
    }
    return el.text;
  }

  private markDirty(key: string): void {
    // Beyond the number of bans there is no point queueing single lines: load everything.
    if (this.dirty.size >= Math.max(10_000, this.bans.size)) {
      this.dirty.clear();
      this.reloadAll = true;
      return;
    }
    this.dirty.add(key);
  }

  /** Re-adds bans that outlast the kernel's longest timeout. */
  private refreshLong(): void {
    const now = Date.now();
    for (const [key, expires] of this.bans) {
      if (expires - now > (MAX_KERNEL_TIMEOUT_S * 1000) / 2) this.markDirty(key);
    }
    this.schedule(this.batchDelay);
  }

  private schedule(delay: number): void {
    if (this.closed || this.timer !== undefined || this.running) return;
    if (!this.reloadAll && this.dirty.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.apply();
    }, delay);
  }

  private apply(): Promise<void> {
    const p = this.applyBatches().finally(() => {
      this.running = undefined;
      this.schedule(this.batchDelay);
    });
    this.running = p;
    return p;
  }

  private async applyBatches(): Promise<void> {
    const reload = this.reloadAll;
    this.reloadAll = false;
    let keys: string[];
    if (reload) {
      this.dirty.clear();
      keys = [...this.bans.keys()];
    } else {
      keys = [...this.dirty];
      this.dirty.clear();
    }
    let first = true;
    // A reload runs at least once, for the flush, even with no bans.
    for (let i = 0; i < keys.length || (first && reload); i += this.chunk) {
      const now = Date.now();
      const items: Item[] = [];
      for (const key of keys.slice(i, i + this.chunk)) {
        const el = toElement(key);
        if (!el) continue;
        const expires = this.bans.get(key);
        const seconds = expires === undefined ? 0 : Math.min(MAX_KERNEL_TIMEOUT_S, Math.ceil((expires - now) / 1000));
        if (seconds <= 0 && reload) continue; // nothing to remove from sets just emptied
        items.push({ element: el, seconds: Math.max(0, seconds) });
      }
      const ok = await this.applyItems(items, reload && first, reload);
      first = false;
      if (!ok) {
        // The table, the sets, the tool or the permission is missing: try everything again later.
        this.scheduleRetry();
        return;
      }
    }
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.reloadAll = true;
      this.schedule(0);
    }, this.retryDelay);
    this.retryTimer.unref();
  }

  /**
   * Writes one chunk. Returns false when nothing can be written (missing table, tool or
   * permission); a refused element is isolated by splitting and counted.
   */
  private async applyItems(items: Item[], flush: boolean, fresh: boolean): Promise<boolean> {
    const result = await this.run(this.script(items, flush, fresh));
    if (result.ok) {
      this.succeeded(items.length);
      return true;
    }
    if (result.kind !== 'refused') {
      this.failedRun(result, items.length);
      return false;
    }
    // One or more elements were refused (an interval overlapping another ...): find them.
    if (flush) {
      const cleared = await this.run(this.script([], true, true));
      if (!cleared.ok) {
        this.failedRun(cleared, items.length);
        return false;
      }
    }
    const budget = { runs: MAX_SPLIT_RUNS };
    const refused: Item[] = [];
    await this.split(items, fresh, budget, refused);
    if (refused.length > 0) {
      this.counters.failed += refused.length;
      this.report(
        result.kind,
        result.message,
        refused.map((r) => r.element.text),
      );
    }
    return true;
  }

  /** Halves a refused batch until the refused elements are found (bounded by `budget.runs`). */
  private async split(items: Item[], fresh: boolean, budget: { runs: number }, refused: Item[]): Promise<void> {
    if (items.length <= 1 || budget.runs <= 0) {
      refused.push(...items);
      return;
    }
    const half = items.length >> 1;
    for (const part of [items.slice(0, half), items.slice(half)]) {
      budget.runs--;
      const r = await this.run(this.script(part, false, fresh));
      if (r.ok) this.succeeded(part.length);
      else if (r.kind === 'refused') await this.split(part, fresh, budget, refused);
      else this.failedRun(r, part.length);
    }
  }

  private succeeded(count: number): void {
    this.counters.applied += count;
    if (this.lastError !== undefined && this.lastError !== 'refused') {
      this.log.info(
        { event: 'firewall-sync', backend: this.backend, table: this.table },
        'firewall sync: the banned sets are being filled again',
      );
    }
    this.lastError = undefined;
  }

  private failedRun(result: RunResult, count: number): void {
    this.counters.failed += count;
    this.report(result.kind, result.message, []);
  }

  /**
   * Logs a failure once per kind (again after a success), with what fixes it; refused
   * elements at most once a minute.
   */
  private report(kind: ErrorKind | undefined, message: string, targets: string[]): void {
    if (kind === undefined) return;
    if (kind === 'refused') {
      const now = Date.now();
      if (now - this.lastRefusedLog < 60_000) return;
      this.lastRefusedLog = now;
    } else {
      if (kind === this.lastError) return;
      this.lastError = kind;
    }
    const tool = this.backend === 'nftables' ? 'nft' : 'ipset';
    const ruleset =
      this.backend === 'nftables'
        ? `sipwarden firewall nftables --config FILE > sipwarden.nft && nft -f sipwarden.nft`
        : `sipwarden firewall iptables --config FILE --family ipset | ipset restore -exist (then the rulesets)`;
    const fix: Record<ErrorKind, string> = {
      'missing-tool': `install ${this.backend === 'nftables' ? 'nftables' : 'ipset'} (the '${tool}' command is not found)`,
      permission: `run sipwarden as root, or give it CAP_NET_ADMIN (systemd: AmbientCapabilities=CAP_NET_ADMIN)`,
      'missing-set': `load the firewall ruleset first: ${ruleset}`,
      timeout: `'${tool}' did not answer in time; check the host's load`,
      refused:
        'the kernel refused these elements (overlapping networks in the interval sets?); the other bans are loaded',
    };
    this.log.warn(
      {
        event: 'firewall-sync-error',
        backend: this.backend,
        table: this.table,
        kind,
        error: message.slice(0, 500),
        ...(targets.length > 0 ? { targets: targets.slice(0, 10) } : {}),
      },
      `firewall sync failed (${kind}): ${fix[kind]}`,
    );
  }

  // ---- scripts ----

  private script(items: Item[], flush: boolean, fresh: boolean): string {
    return this.backend === 'nftables' ? this.nftScript(items, flush, fresh) : this.ipsetScript(items, flush);
  }

  private nftSet(el: Element): string {
    if (el.family === 4) return el.network ? NFT_SETS.net4 : NFT_SETS.v4;
    return el.network ? NFT_SETS.net6 : NFT_SETS.v6;
  }

  /**
   * `add` of an element that exists leaves its old timeout on older kernels, and `delete` of
   * one that does not exist fails the whole batch; so each element is added bare, deleted,
   * then added with its timeout (or not, to remove it), in one transaction. After a flush the
   * sets are empty and a plain add does.
   */
  private nftScript(items: Item[], flush: boolean, fresh: boolean): string {
    const base = `inet ${this.table}`;
    const lines: string[] = [];
    if (flush) for (const set of Object.values(NFT_SETS)) lines.push(`flush set ${base} ${set}`);
    const bySet = new Map<string, Item[]>();
    for (const item of items) {
      const set = this.nftSet(item.element);
      let list = bySet.get(set);
      if (!list) {
        list = [];
        bySet.set(set, list);
      }
      list.push(item);
    }
    for (const [set, list] of bySet) {
      if (!fresh) {
        const bare = list.map((i) => i.element.text).join(', ');
        lines.push(`add element ${base} ${set} { ${bare} }`);
        lines.push(`delete element ${base} ${set} { ${bare} }`);
      }
      const adds = list.filter((i) => i.seconds > 0).map((i) => `${i.element.text} timeout ${i.seconds}s`);
      if (adds.length > 0) lines.push(`add element ${base} ${set} { ${adds.join(', ')} }`);
    }
    return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
  }

  private ipsetScript(items: Item[], flush: boolean): string {
    const lines: string[] = [];
    if (flush) lines.push(`flush ${this.ipsets[4]}`, `flush ${this.ipsets[6]}`);
    for (const item of items) {
      const set = this.ipsets[item.element.family];
      lines.push(
        item.seconds > 0
          ? `add ${set} ${item.element.text} timeout ${item.seconds}`
          : `del ${set} ${item.element.text}`,
      );
    }
    return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
  }

  // ---- running the tool ----

  private run(input: string): Promise<RunResult> {
    if (input === '') return Promise.resolve({ ok: true, kind: undefined, message: '' });
    const args = this.backend === 'nftables' ? ['nft', '-f', '-'] : ['ipset', 'restore', '-exist'];
    const argv = [...this.prefix, ...args];
    this.counters.runs++;
    return new Promise((resolve) => {
      let stderr = '';
      let timedOut = false;
      let settled = false;
      const done = (r: RunResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (!r.ok) this.counters.errors++;
        resolve(r);
      };
      let child: ReturnType<typeof spawn>;
      try {
        child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'ignore', 'pipe'] });
      } catch (err) {
        done({ ok: false, kind: 'missing-tool', message: (err as Error).message });
        return;
      }
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, this.timeout);
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (d: string) => {
        if (stderr.length < MAX_STDERR) stderr += d.slice(0, MAX_STDERR - stderr.length);
      });
      child.stdin!.on('error', () => {
        // the tool exited before reading everything; its exit status tells
      });
      child.on('error', (err: NodeJS.ErrnoException) => {
        const kind: ErrorKind =
          err.code === 'ENOENT' ? 'missing-tool' : err.code === 'EACCES' ? 'permission' : 'refused';
        done({ ok: false, kind, message: err.message });
      });
      child.on('close', (code) => {
        if (code === 0 && !timedOut) {
          done({ ok: true, kind: undefined, message: '' });
          return;
        }
        const kind = timedOut ? 'timeout' : classify(stderr, code);
        done({ ok: false, kind, message: stderr.trim() || `exit status ${code}` });
      });
      child.stdin!.end(input);
    });
  }
}

/** What a failed nft/ipset run means, from its error text. */
function classify(stderr: string, code: number | null): ErrorKind {
  if (/Operation not permitted|Permission denied|must be root|Cannot open session to kernel/i.test(stderr)) {
    return 'permission';
  }
  // `ip netns exec` and shells report a missing command with status 127 / "No such file or directory" on exec.
  if (code === 127 || /exec(vp)? of ".*" failed|command not found/i.test(stderr)) return 'missing-tool';
  if (
    /No such file or directory|does not exist|does not exist in table|set with the given name does not exist/i.test(
      stderr,
    )
  ) {
    return 'missing-set';
  }
  return 'refused';
}
