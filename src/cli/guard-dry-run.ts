import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Config } from '../config/index.js';
import { EventBus } from '../core/events.js';
import type { Source, Verdict } from '../core/verdict.js';
import type { BanPolicy } from '../guards/ban-policy.js';
import { GuardBuilder } from '../guards/build.js';
import { CidrSet } from '../net/cidr.js';
import type { SipMessage } from '../sip/message.js';
import { hostAddress } from '../sip/uri.js';
import { MemoryBanStore } from '../store/memory.js';
import { SqliteBanStore } from '../store/sqlite.js';
import type { Ban } from '../store/types.js';
import type { GuardReport } from './check-message.js';

const SILENT = { info: () => {}, warn: () => {} };

/**
 * Runs every configured guard on one message without keeping anything: a fresh chain per
 * message, no ban store written, no events sent anywhere.
 */
export class GuardDryRun {
  private readonly trusted: CidrSet;
  private readonly ownHosts: Set<string>;

  constructor(private readonly config: Config) {
    this.trusted = new CidrSet(config.trusted);
    for (const u of config.upstreams) for (const t of u.targets) if (isIP(t.host) !== 0) this.trusted.add(t.host);
    this.ownHosts = new Set<string>();
    for (const l of config.listen) {
      this.ownHosts.add(`${l.host}:${l.port}`);
      if (l.advertise) this.ownHosts.add(`${l.advertise.host.toLowerCase()}:${l.advertise.port}`);
    }
  }

  /** The bans in force in the configured file, copied into memory: the dry run never writes it. */
  private bans(): Ban[] {
    if (this.config.store.type !== 'sqlite' || !existsSync(this.config.store.path)) return [];
    const file = new SqliteBanStore(this.config.store.path, { create: false, pollInterval: 0 });
    try {
      return file.list(Date.now());
    } finally {
      file.close();
    }
  }

  run(source: Source, bytes: number, msg: SipMessage | undefined): { guards: GuardReport[]; verdict: string } {
    if (this.trusted.has(source.address)) return { guards: [], verdict: 'trusted: no guard runs' };
    const store = new MemoryBanStore({ maxBans: this.config.guards.bans.maxBans });
    for (const ban of this.bans()) store.add(ban);
    const builder = new GuardBuilder({
      events: new EventBus(),
      store,
      log: SILENT,
      identity: {
        isOwnHost: (host, port) => {
          const h = hostAddress(host).toLowerCase();
          if (port !== undefined) return this.ownHosts.has(`${h}:${port}`);
          for (const k of this.ownHosts) if (k.slice(0, k.lastIndexOf(':')) === h) return true;
          return false;
        },
        isTrusted: (address) => this.trusted.has(address),
      },
    });
    try {
      const chain = builder.build(this.config.guards, this.config.sources);
      const policy = builder.banPolicy;
      const reports: GuardReport[] = [];
      let verdict = 'forward';
      const now = Date.now();
      for (const { guard, mode } of chain.entries) {
        if (mode === 'off') {
          reports.push({ guard: guard.name, mode, action: 'off' });
          continue;
        }
        let v: Verdict | undefined = guard.checkSource?.(source, bytes, now);
        if ((v === undefined || v.action === 'pass') && msg !== undefined && guard.checkMessage) {
          try {
            v = guard.checkMessage(msg, source, now);
          } catch (err) {
            v = { action: 'drop', rule: 'malformed', detail: (err as Error).message };
          }
        }
        const r = report(guard.name, mode, v ?? { action: 'pass' }, source.address, policy);
        reports.push(r);
        if (verdict === 'forward' && mode === 'enforce' && r.action !== 'pass') {
          verdict = r.action === 'accept' ? `accept (${guard.name})` : `${r.action} (${guard.name}: ${r.rule})`;
          if (r.action === 'accept') break;
        }
      }
      return { guards: reports, verdict };
    } finally {
      builder.close();
      store.close();
    }
  }
}

function report(guard: string, mode: string, v: Verdict, address: string, policy: BanPolicy): GuardReport {
  const r: GuardReport = { guard, mode, action: v.action };
  if (v.action === 'pass' || v.action === 'accept') return r;
  r.rule = v.rule;
  if (v.detail) r.detail = v.detail;
  const reply = v.action === 'reply' ? v.reply : v.action === 'ban' ? v.reply : undefined;
  if (reply) r.reply = `${reply.code} ${reply.reason}`;
  if (v.action === 'ban') {
    // What the running sipwarden would ban: the source's prefix, or nothing for a never_ban peer.
    const { target, note } = policy.target(address, v.target);
    if (target !== undefined) r.ban = { target, seconds: Math.round(v.duration / 1000), reason: v.reason };
    if (note !== '') r.note = note;
  }
  return r;
}
