/**
 * The module registry: every capability that is not routing, in the order its hooks run. A new
 * module is one folder and one line here. Order matters where modules meet on a message: the
 * guards decide first, the honeypot takes what they send it, credentials are stripped, topology
 * hiding edits the copy, and the watch sees answers as they leave (after hiding).
 */
import { CredentialStripping } from './auth/strip.js';
import type { Config } from './config/schema.js';
import type { EventBus } from './core/events.js';
import type { Module } from './core/module.js';
import type { GuardChain } from './guards/chain.js';
import { GuardsModule } from './guards/module.js';
import type { HoneypotHook } from './honeypot/honeypot.js';
import { HoneypotModule } from './honeypot/module.js';
import type { EventLogger } from './log/types.js';
import type { TopologyHider } from './topology/hider.js';
import { TopologyModule } from './topology/module.js';
import { WatchModule } from './watch/module.js';
import type { TransactionWatch } from './watch/watch.js';

/** What the server hands every module factory. */
export interface ModuleDeps {
  readonly config: Config;
  readonly log: EventLogger;
  readonly events: EventBus;
  /** The guard chain built from `guards` (rebuilt on reload). */
  readonly chain: GuardChain;
  /** True when a banned source's TCP/TLS connections are refused as they are accepted. */
  readonly refusesConnection: ((address: string) => boolean) | undefined;
  readonly honeypot: HoneypotHook | undefined;
  readonly topology: TopologyHider | undefined;
  readonly watch: TransactionWatch;
  /** Modules a caller adds after the registry's (embedding, tests). */
  readonly extra?: readonly Module[];
}

type Factory = (deps: ModuleDeps) => Module | undefined;

const REGISTRY: readonly Factory[] = [
  (d) => new GuardsModule(d.chain, d.refusesConnection),
  (d) => (d.honeypot === undefined ? undefined : new HoneypotModule(d.honeypot)),
  (d) => (d.config.guards.chain.includes('auth') ? new CredentialStripping() : undefined),
  (d) => (d.topology === undefined ? undefined : new TopologyModule(d.topology, d.events.decisions, d.log)),
  (d) => new WatchModule(d.watch),
];

/** The modules in force for this configuration, in hook order. */
export function buildModules(deps: ModuleDeps): Module[] {
  const out: Module[] = [];
  for (const create of REGISTRY) {
    const m = create(deps);
    if (m !== undefined) out.push(m);
  }
  if (deps.extra !== undefined) out.push(...deps.extra);
  return out;
}
