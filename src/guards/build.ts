import { type AuthDeps, AuthGuard, standaloneAuthDeps } from '../auth/guard.js';
import type { EventBus } from '../core/events.js';
import type { BanStore } from '../store/types.js';
import { Reporter } from '../watch/report.js';
import { type ResponseWatcher, TransactionWatch } from '../watch/watch.js';
import { AclGuard, type AclLogger } from './acl/acl.js';
import { BanPolicy } from './ban-policy.js';
import { BansGuard } from './bans/bans.js';
import { BruteForceGuard } from './brute-force/brute-force.js';
import { type ChainEntry, GuardChain } from './chain.js';
import type { GuardName, GuardsConfig, SourcesConfig } from './config.js';
import { DialScanGuard } from './dial-scan/dial-scan.js';
import { FloodGuard } from './flood/flood.js';
import { FraudGuard } from './fraud/fraud.js';
import { SanityGuard } from './sanity/sanity.js';
import { ScannerGuard } from './scanner/scanner.js';
import type { Guard } from './types.js';

/** What guards may ask about sipwarden's own identity and the inside. */
export interface Identity {
  /** True when host[:port] names sipwarden itself (a listener or its advertised address). */
  isOwnHost(host: string, port: number | undefined): boolean;
  /** True for trusted sources and upstream targets. */
  isTrusted(address: string): boolean;
}

export interface GuardDeps {
  readonly events: EventBus;
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
  /** Requests forwarded and their answers, for the guards that watch answers (kept across reloads). */
  readonly watch = new TransactionWatch();
  private readonly reporter: Reporter;
  private acl: AclGuard | undefined;
  /** What one source is and who is never banned, for every guard (`sources`, `guards.never_ban`). */
  private policy: BanPolicy = BanPolicy.DEFAULT;

  constructor(private readonly deps: GuardDeps) {
    this.reporter = new Reporter({
      events: deps.events,
      store: deps.store,
      log: deps.log,
      // An allow-listed source skips the chain: the answer-watching guards leave it alone too.
      isExempt: (source) => this.acl?.checkSource(source).action === 'accept',
      policy: () => this.policy,
      onStoreError: (err) => deps.log.warn({ event: 'store-error' }, String(err)),
    });
  }

  /** The brute_force guard in force, for sipwarden's own authentication to report to. */
  get bruteForce(): BruteForceGuard | undefined {
    const g = this.built.get('brute_force')?.guard;
    return g instanceof BruteForceGuard ? g : undefined;
  }

  /** The flood guard in force (the admin API reads its table). */
  get flood(): FloodGuard | undefined {
    const g = this.built.get('flood')?.guard;
    return g instanceof FloodGuard ? g : undefined;
  }

  /** The ban policy of the chain built last (the honeypot and the dry run ask it too). */
  get banPolicy(): BanPolicy {
    return this.policy;
  }

  /**
   * Builds the chain. `sources` (the top-level setting) makes one source for every guard that
   * counts, scores or bans per source, and for the bans themselves.
   */
  build(config: GuardsConfig, sources: Readonly<SourcesConfig>): GuardChain {
    this.policy = new BanPolicy(sources, config.neverBan);
    const next = new Map<GuardName, Built>();
    const entries: ChainEntry[] = [];
    const watchers: ResponseWatcher[] = [];
    for (const name of config.chain) {
      const settings = settingsOf(config, name);
      // sanity depends on the auth guard's realms too (which credentials may travel together);
      // guards that count per source start afresh when what makes a source changes.
      const key = JSON.stringify([
        settings,
        config.reply,
        name === 'sanity' ? [...ownRealms(config)] : 0,
        COUNTS_PER_SOURCE.has(name) ? sources : undefined,
      ]);
      const old = this.built.get(name);
      const guard = old?.key === key ? old.guard : this.create(name, config);
      if (guard === undefined) continue;
      next.set(name, { key, guard });
      entries.push({ guard, mode: settings.mode });
      if (settings.mode !== 'off' && isWatcher(guard)) watchers.push(guard);
    }
    for (const [name, b] of this.built) if (next.get(name)?.guard !== b.guard) b.guard.close?.();
    this.built = next;
    const acl = next.get('acl');
    this.acl = acl !== undefined && config.acl.mode === 'enforce' ? (acl.guard as AclGuard) : undefined;
    this.watch.setWatchers(watchers);
    // The auth guard's in-dialog skip asks which dialogs were established.
    const auth = next.get('auth')?.guard;
    this.watch.trackDialogs = auth !== undefined && config.auth.mode !== 'off' && !config.auth.inDialog;
    const chain = new GuardChain(entries, this.deps.events, this.deps.store, Date.now, this.policy);
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
        return new FloodGuard(config.flood, this.policy.keys);
      case 'sanity':
        return new SanityGuard(config.sanity, ownRealms(config));
      case 'scanner':
        return new ScannerGuard(config.scanner, config.reply, this.deps.identity, this.policy.keys);
      case 'auth':
        // Off: not built at all (it would open its users file or table for nothing).
        if (config.auth.mode === 'off') return undefined;
        return new AuthGuard(config.auth, this.deps.auth ?? standaloneAuthDeps(this.deps.log));
      case 'brute_force':
        return new BruteForceGuard(config.bruteForce, this.reporter);
      case 'dial_scan':
        return new DialScanGuard(config.dialScan, this.reporter);
      case 'fraud':
        return new FraudGuard(config.fraud, this.reporter);
      default:
        return undefined;
    }
  }

  close(): void {
    for (const b of this.built.values()) b.guard.close?.();
    this.built.clear();
    this.watch.setWatchers([]);
  }
}

/** The realms sipwarden's auth guard checks (none when it is not in force). */
function ownRealms(config: GuardsConfig): ReadonlySet<string> {
  if (!config.chain.includes('auth') || config.auth.mode === 'off') return new Set();
  return new Set([config.auth.realm, ...Object.values(config.auth.realms)]);
}

/** Guards whose state is kept per source (by `sources.*`). */
const COUNTS_PER_SOURCE: ReadonlySet<GuardName> = new Set(['flood', 'scanner', 'brute_force', 'dial_scan']);

/** A guard's settings by its chain name (config keys are camelCase). */
function settingsOf(config: GuardsConfig, name: GuardName): { mode: GuardsConfig['acl']['mode'] } {
  switch (name) {
    case 'brute_force':
      return config.bruteForce;
    case 'dial_scan':
      return config.dialScan;
    default:
      return config[name];
  }
}

function isWatcher(guard: Guard): guard is Guard & ResponseWatcher {
  return typeof (guard as Partial<ResponseWatcher>).onFinalResponse === 'function';
}
