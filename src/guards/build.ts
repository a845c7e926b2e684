import { type AuthDeps, AuthGuard, standaloneAuthDeps } from '../auth/guard.js';
import type { GuardName, GuardsConfig } from '../config/types.js';
import type { BanStore } from '../store/types.js';
import { AclGuard, type AclLogger } from './acl.js';
import { BansGuard } from './bans.js';
import { type ChainEntry, GuardChain } from './chain.js';
import type { EventStream } from './events.js';
import { FloodGuard } from './flood.js';
import { SanityGuard } from './sanity.js';
import { ScannerGuard } from './scanner.js';
import type { Guard } from './types.js';

/** What guards may ask about sipwarden's own identity and the inside. */
export interface Identity {
  /** True when host[:port] names sipwarden itself (a listener or its advertised address). */
  isOwnHost(host: string, port: number | undefined): boolean;
  /** True for trusted sources and upstream targets. */
  isTrusted(address: string): boolean;
}

export interface GuardDeps {
  readonly events: EventStream;
  readonly store: BanStore | undefined;
  readonly log: AclLogger;
  readonly identity: Identity;
  /** Outcomes, credential stripping, users store and secret of the auth guard (default: standalone). */
  readonly auth?: AuthDeps;
}

interface Built {
  readonly key: string;
  readonly guard: Guard;
}

/**
 * Builds the guard chain from the configuration. On reload a guard whose settings did not
 * change is kept as it is, with its state (flood counters, scores); the others are replaced
 * and closed.
 */
export class GuardBuilder {
  private built = new Map<GuardName, Built>();

  constructor(private readonly deps: GuardDeps) {}

  build(config: GuardsConfig): GuardChain {
    const next = new Map<GuardName, Built>();
    const entries: ChainEntry[] = [];
    for (const name of config.chain) {
      const settings = config[name];
      const key = JSON.stringify([settings, config.reply]);
      const old = this.built.get(name);
      const guard = old?.key === key ? old.guard : this.create(name, config);
      if (guard === undefined) continue;
      next.set(name, { key, guard });
      entries.push({ guard, mode: settings.mode });
    }
    for (const [name, b] of this.built) if (next.get(name)?.guard !== b.guard) b.guard.close?.();
    this.built = next;
    const chain = new GuardChain(entries, this.deps.events, this.deps.store);
    chain.onStoreError = (err) => this.deps.log.warn({ event: 'store-error' }, String(err));
    return chain;
  }

  private create(name: GuardName, config: GuardsConfig): Guard | undefined {
    switch (name) {
      case 'acl':
        return new AclGuard(config.acl, config.reply, this.deps.log);
      case 'bans':
        if (this.deps.store === undefined) return undefined;
        return new BansGuard(config.bans, this.deps.store, config.reply);
      case 'flood':
        return new FloodGuard(config.flood);
      case 'sanity':
        return new SanityGuard(config.sanity);
      case 'scanner':
        return new ScannerGuard(config.scanner, config.reply, this.deps.identity);
      case 'auth':
        // Off: not built at all (it would open its users file or table for nothing).
        if (config.auth.mode === 'off') return undefined;
        return new AuthGuard(config.auth, this.deps.auth ?? standaloneAuthDeps(this.deps.log));
      default:
        return undefined;
    }
  }

  close(): void {
    for (const b of this.built.values()) b.guard.close?.();
    this.built.clear();
  }
}
