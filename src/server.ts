import { createHash, createHmac } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { createSecureContext } from 'node:tls';
import type { RegisterUi } from './admin/app.js';
import type { AdminContext } from './admin/context.js';
import { AdminListener } from './admin/listener.js';
import { Alerts } from './alerts/alerts.js';
import { observeAlerts } from './alerts/metrics.js';
import { DialogMembership } from './auth/dialog-membership.js';
import type { AuthDeps } from './auth/guard.js';
import { countAuthOutcomes } from './auth/metrics.js';
import { type AuthOutcome, AuthOutcomes } from './auth/outcomes.js';
import { buildTrustedSet, type Config, ensureSecret, type ListenConfig } from './config/index.js';
import { publishBanChanges } from './core/ban-feed.js';
import { EventBus } from './core/events.js';
import { countEvents, createRegistry, observeBans, type Registry } from './core/metrics.js';
import { type Module, Pipeline } from './core/module.js';
import type { ReplySpec } from './core/verdict.js';
import { observeFirewallSync } from './firewall/metrics.js';
import { FirewallSync } from './firewall/sync.js';
import { GuardBuilder } from './guards/build.js';
import type { GuardChain } from './guards/chain.js';
import type { Honeypot } from './honeypot/honeypot.js';
import { observeHoneypot } from './honeypot/metrics.js';
import { openHoneypot } from './honeypot/open.js';
import type { EventLogger } from './log/types.js';
import { buildModules, type ModuleDeps } from './modules.js';
import type { Peer } from './net/peer.js';
import { RateLimit } from './net/rate-limit.js';
import { logEvents } from './ops/event-log.js';
import { FlowTokens } from './proxy/flow-token.js';
import { HealthChecker } from './proxy/health.js';
import { observeProxyStats, observeUpstreams } from './proxy/metrics.js';
import { type ProxyOptions, SipProxy } from './proxy/proxy.js';
import { type TargetSpec, type UpstreamSpec, Upstreams } from './proxy/upstreams.js';
import type { SipParseError } from './sip/errors.js';
import { openBanStore } from './store/open.js';
import type { BanChange, BanStore } from './store/types.js';
import { buildTopologyHider } from './topology/build.js';
import type { TopologyHider } from './topology/hider.js';
import { type ListenerSpec, TransportManager } from './transport/manager.js';
import { observeTransports } from './transport/metrics.js';
import type { TlsFiles } from './transport/stream.js';

export interface ServerOptions {
  /** Modules to run after the registry's, on every message (embedding, tests). */
  modules?: readonly Module[];
  /** The configuration file, shown by the admin API's status. */
  configFile?: string;
  /** Rereads the configuration and applies it (SIGHUP's job); the admin API's `POST /api/reload` calls it. */
  reload?: () => Promise<void>;
  /** Adds the dashboard's pages to the admin API (before it listens). */
  registerUi?: RegisterUi;
}

/** A running sipwarden: transports, proxy core, modules and health checks wired together. */
export class Server {
  private constructor(
    readonly transports: TransportManager,
    readonly proxy: SipProxy,
    private health: HealthChecker,
    /** URL of each listener by index ('' once removed by a reload). */
    private readonly listenerUrls: string[],
    private readonly log: EventLogger,
    /** Every ban, unban, block, alert and state change, for logs, metrics and the dashboard. */
    readonly events: EventBus,
    /** This server's metrics (never the global default registry). */
    readonly metrics: Registry,
    private readonly guards: GuardBuilder,
    /** Bans, shared by the guards, the CLI (same file) and the firewall sync. */
    readonly bans: BanStore,
    private config: Config,
    /** Outcomes and credential stripping of the auth guard; they outlive guard rebuilds on reload. */
    private readonly auth: AuthDeps,
    /** The honeypot, opened when first enabled (it keeps its records until stop). */
    private honeypot: Honeypot | undefined,
    /** Which in-dialog requests the auth guard lets through (it follows the topology hider in force). */
    private readonly dialogs: DialogMembership,
    /** Modules the embedder added after the registry's (kept across reloads). */
    private readonly extraModules: readonly Module[],
  ) {
    this.wireHealth();
    this.wireRefusals();
    health.start();
    this.wireBanChanges();
    this.wireBans();
    this.startFirewallSync();
    this.wireMetrics();
    this.startAlerts();
  }

  private firewall: FirewallSync | undefined;
  private alerts: Alerts | undefined;

  /** The webhooks of `alerts` on the event bus; a reload that changes them starts them anew. */
  private startAlerts(previous?: Config): void {
    if (previous !== undefined && JSON.stringify(previous.alerts) === JSON.stringify(this.config.alerts)) return;
    this.alerts?.close();
    this.alerts = new Alerts(this.events, this.config.alerts, this.log);
  }

  /** What the proxy and the honeypot counted (the `stopping` log line). */
  stats(): Record<string, unknown> {
    return { ...this.proxy.stats.toJSON(), honeypot: Object.fromEntries(this.honeypot?.byGuard ?? []) };
  }

  /** What edge authentication decided about every request it checked (the failure tracker subscribes here). */
  get authOutcomes(): AuthOutcomes {
    return this.auth.outcomes;
  }

  /**
   * A banned source's TCP/TLS connections are closed as soon as they are accepted (a module's
   * connection hook), and a new ban closes the connections it covers (onBanChange).
   */
  private wireBans(): void {
    this.transports.stream.refuseConnection = (address) => !this.proxy.acceptsConnection(address);
  }

  private startFirewallSync(): void {
    const fw = this.config.firewall;
    if (!fw.sync) return;
    this.firewall = new FirewallSync({ backend: fw.backend, table: fw.table }, this.log);
    this.firewall.start(this.bans.list(Date.now()));
  }

  /**
   * The store's changes: the ones the guards did not already report (bans added or lifted by the
   * CLI on the same file, expiries) become events; every change feeds the firewall sync, and a
   * new ban closes the connections it covers.
   */
  private wireBanChanges(): void {
    publishBanChanges(this.bans, this.events);
    this.bans.subscribe((change: BanChange) => {
      this.firewall?.onChange(change);
      if (change.kind === 'added') this.transports.stream.closeBanned(change.ban.target);
    });
  }

  /** Every module's metrics in this server's registry; read at scrape time where they count on the message path. */
  private wireMetrics(): void {
    const registry = this.metrics;
    countEvents(registry, this.events);
    countAuthOutcomes(registry, this.auth.outcomes);
    observeBans(registry, this.bans);
    observeProxyStats(registry, () => this.proxy.stats);
    observeUpstreams(registry, this.proxy.upstreamSet);
    observeTransports(registry, this.transports);
    observeHoneypot(registry, () => this.honeypot);
    observeFirewallSync(registry, () => this.firewall?.stats());
    observeAlerts(registry, () => this.alerts);
  }

  /** Binds every listener and starts forwarding; rejects with a message naming the cause. */
  static async start(config: Config, log: EventLogger, options: ServerOptions = {}): Promise<Server> {
    const key = flowKey(config);
    let proxy: SipProxy | undefined;
    const transports = new TransportManager(
      {
        idleTimeoutMs: config.tcp.idleTimeout,
        connectTimeoutMs: config.tcp.connectTimeout,
        tlsHandshakeTimeoutMs: config.tcp.tlsHandshakeTimeout,
        maxConnections: config.tcp.maxConnections,
        maxConnectionsPerIp: config.tcp.maxConnectionsPerIp,
        upstreamReserve: config.tcp.upstreamReserve,
        // Per-address connection limits aggregate IPv6 sources as the flood guard does.
        ipv6Prefix: config.sources.ipv6Prefix,
        maxPendingOutput: config.tcp.maxPendingOutput,
        pongsPerSecond: config.tcp.pongsPerSecond,
        limits: config.limits,
      },
      // Listeners bind before the proxy exists: what arrives in between is dropped, never a crash.
      (data, peer) => proxy?.onMessage(data, peer),
      // Until the proxy exists (listeners bind first), keep-alives are not answered.
      (peer, count) => proxy?.onKeepAlive(peer, count) ?? false,
      (peer: Peer, err: SipParseError) =>
        log.debug({ event: 'framing-error', source: peer.address, port: peer.port, code: err.code }, err.reason),
    );
    const urls: string[] = [];
    let upstreams: Upstreams;
    try {
      for (const l of config.listen) urls.push(await bindListener(transports, l));
      upstreams = await resolveUpstreams(config);
    } catch (err) {
      await transports.close();
      throw err;
    }
    const events = new EventBus();
    events.onListenerError = (err) => log.warn({ event: 'event-listener-failed' }, String(err));
    logEvents(events, log);
    const identity = {
      isOwnHost: (host: string, port: number | undefined) => proxy?.isOwnHost(host, port) ?? false,
      isTrusted: (address: string) => proxy?.isTrustedAddress(address) ?? false,
    };
    const outcomes = new AuthOutcomes();
    outcomes.onListenerError = (err) => log.warn({ event: 'auth-listener-failed' }, String(err));
    const auth: AuthDeps = {
      outcomes,
      storeFile: config.store.type === 'sqlite' ? config.store.path : undefined,
      secret: () => ensureSecret(config),
      log,
    };
    let store: BanStore;
    let chain: GuardChain;
    let guards: GuardBuilder;
    try {
      store = openBanStore(config.store, config.guards.bans.maxBans, {
        onError: (err) => log.warn({ event: 'store-error' }, err.message),
      });
    } catch (err) {
      await transports.close();
      throw err;
    }
    const tokens = new FlowTokens([key]);
    let dialogs: DialogMembership;
    try {
      guards = new GuardBuilder({ events, store, log, identity, auth });
      chain = guards.build(config.guards, config.sources);
      const builder = guards;
      auth.judge = (o) => judgeEdgeAuth(o, builder);
      // The in-dialog skip: sipwarden's own Record-Route for this source, and a dialog the watch saw established.
      dialogs = new DialogMembership((t) => tokens.decode(t), identity.isOwnHost, builder.watch.dialogs);
      auth.inDialog = dialogs.belongs;
    } catch (err) {
      store.close();
      await transports.close();
      throw err;
    }
    let honeypot: Honeypot | undefined;
    try {
      honeypot = config.honeypot.enabled ? openHoneypot(config, transports, log, guards.banPolicy, events) : undefined;
    } catch (err) {
      guards.close();
      store.close();
      await transports.close();
      throw err;
    }
    let topology: TopologyHider | undefined;
    try {
      topology = buildTopologyHider(config);
    } catch (err) {
      honeypot?.close();
      guards.close();
      store.close();
      await transports.close();
      throw err;
    }
    dialogs.topology = topology;
    proxy = new SipProxy(
      transports,
      upstreams,
      tokens,
      proxyOptions(config, key, {
        log,
        events,
        chain,
        refusesConnection: refusesConnection(config, store),
        honeypot,
        topology,
        watch: guards.watch,
        extra: options.modules,
      }),
      log,
    );
    const server = new Server(
      transports,
      proxy,
      new HealthChecker(upstreams, transports, events),
      urls,
      log,
      events,
      createRegistry(),
      guards,
      store,
      config,
      auth,
      honeypot,
      dialogs,
      options.modules ?? [],
    );
    // The admin API first: `listening` says everything is ready.
    await server.startAdmin(options);
    for (const l of transports.listeners) {
      log.info({ event: 'listening', transport: l.transport, address: l.address, port: l.port }, 'listening');
    }
    return server;
  }

  private wireHealth(): void {
    const upstreams = this.proxy.upstreamSet;
    this.transports.stream.tlsOptionsFor = (address, port) => {
      const tls = upstreams().find(address, port)?.spec.tls;
      if (tls === undefined) return undefined;
      return { rejectUnauthorized: tls.verify, ca: tls.ca, servername: tls.serverName };
    };
    this.proxy.onPingResponse = (branch, msg, peer) => this.health.onResponse(branch, msg, peer);
    this.transports.stream.onConnectFailed = (t, a, p) => this.health.onUnreachable(t, a, p);
    // Connections to upstream targets may use the slots reserved for them (tcp.upstream_reserve).
    this.transports.stream.isUpstream = (address, port) => upstreams().find(address, port) !== undefined;
  }

  /** A message dropped for want of a connection slot is counted and reported (at most once a second). */
  private wireRefusals(): void {
    const reports = new RateLimit(1);
    this.transports.stream.onRefusedOutbound = (transport, address, port) => {
      if (!reports.take()) return;
      this.log.warn(
        { event: 'connection-refused', transport, destination: address, port, reason: 'connection-limit' },
        'no connection slot: message not sent',
      );
    };
  }

  // ---- the admin API (src/admin/): started last, stopped first ----

  private admin: AdminListener | undefined;
  private readonly startedAt = Date.now();
  private configLoadedAt = Date.now();

  /**
   * Serves the admin API when `admin.enabled`. A listener that cannot bind is logged and
   * sipwarden goes on without it: forwarding SIP matters more than its console.
   */
  private async startAdmin(options: ServerOptions): Promise<void> {
    if (!this.config.admin.enabled) return;
    try {
      this.admin = await AdminListener.start(
        this.config.admin,
        this.config.dataDir,
        this.adminContext(options),
        options.registerUi,
      );
    } catch (err) {
      this.log.warn({ event: 'admin-start-failed' }, err instanceof Error ? err.message : String(err));
    }
  }

  private async stopAdmin(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    await admin?.stop();
  }

  /** The admin API's settings are read at start only. */
  private warnAdminChanges(before: Config, after: Config): void {
    if (JSON.stringify(before.admin) !== JSON.stringify(after.admin)) {
      this.log.warn({ event: 'reload-partial' }, 'admin changes take effect at the next start');
    }
  }

  private adminContext(options: ServerOptions): AdminContext {
    const version = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
    return {
      version,
      startedAt: this.startedAt,
      configFile: options.configFile,
      configLoadedAt: () => this.configLoadedAt,
      listeners: () =>
        this.transports.listeners.map((l) => ({
          url: `${l.transport}://${l.family === 6 ? `[${l.address}]` : l.address}:${l.port}`,
          transport: l.transport,
          address: l.address,
          port: l.port,
        })),
      stats: () => this.stats(),
      upstreams: () =>
        [...this.proxy.upstreamSet().byName.entries()].map(([name, u]) => ({
          name,
          targets: u.targets.map((t) => ({
            url: t.spec.url,
            transport: t.spec.transport,
            address: t.spec.address,
            port: t.spec.port,
            up: t.up,
            failures: t.missed,
            lastPing: t.lastPing,
          })),
        })),
      traffic: () => ({
        messages: this.proxy.stats.requestsReceived + this.proxy.stats.responsesReceived,
        blocked: this.proxy.stats.blocked,
      }),
      flood: (limit, now) => {
        const flood = this.guards.flood;
        return flood === undefined ? undefined : { window: flood.window, sources: flood.top(limit, now) };
      },
      attacks: () => {
        const honeypot = this.honeypot;
        if (honeypot === undefined) return undefined;
        honeypot.records.flush();
        return honeypot.records.list();
      },
      reload: options.reload ?? (() => Promise.reject(new Error('no configuration file to reload'))),
      bans: this.bans,
      events: this.events,
      metrics: this.metrics,
      log: this.log,
    };
  }

  /** Applies a new configuration without dropping calls: listeners are added/removed by URL. */
  async reload(config: Config): Promise<void> {
    const certificates = readCertificates(config);
    const wanted = new Set(config.listen.map((l) => l.url));
    const remove = new Set<number>();
    this.listenerUrls.forEach((url, i) => {
      if (url !== '' && !wanted.has(url)) remove.add(i);
    });
    if (remove.size > 0) await this.transports.remove(remove);
    for (const i of remove) this.listenerUrls[i] = '';
    for (const l of config.listen) {
      if (!this.listenerUrls.includes(l.url)) this.listenerUrls.push(await bindListener(this.transports, l));
    }
    this.renewCertificates(certificates);
    const upstreams = await resolveUpstreams(config);
    const chain = this.guards.build(config.guards, config.sources);
    if (config.honeypot.enabled) {
      const sources = this.guards.banPolicy;
      if (this.honeypot === undefined)
        this.honeypot = openHoneypot(config, this.transports, this.log, sources, this.events);
      else this.honeypot.reconfigure(config.honeypot, config.guards.repliesPerSecond, sources);
    }
    this.health.stop();
    const topology = buildTopologyHider(config);
    this.dialogs.topology = topology;
    this.proxy.reconfigure(
      upstreams,
      proxyOptions(config, flowKey(config), {
        log: this.log,
        events: this.events,
        chain,
        refusesConnection: refusesConnection(config, this.bans),
        honeypot: config.honeypot.enabled ? this.honeypot : undefined,
        topology,
        watch: this.guards.watch,
        extra: this.extraModules,
      }),
    );
    const before = this.config;
    this.config = config;
    if (
      JSON.stringify(before.store) !== JSON.stringify(config.store) ||
      before.guards.bans.maxBans !== config.guards.bans.maxBans
    ) {
      this.log.warn(
        { event: 'reload-partial' },
        'store and guards.bans.max_bans changes take effect at the next start',
      );
    }
    if (JSON.stringify(before.firewall) !== JSON.stringify(config.firewall)) {
      const old = this.firewall;
      this.firewall = undefined;
      await old?.close();
      this.startFirewallSync();
    }
    this.startAlerts(before);
    this.health = new HealthChecker(upstreams, this.transports, this.events);
    this.wireHealth();
    this.health.start();
    this.configLoadedAt = Date.now();
    this.warnAdminChanges(before, config);
    this.log.info(
      { event: 'reloaded', listeners: config.listen.length, upstreams: config.upstreams.length },
      'configuration reloaded',
    );
  }

  /** Renewed certificates (a reload): TLS listeners serve them to new connections; open ones keep theirs. */
  private renewCertificates(certificates: ReadonlyMap<string, TlsFiles>): void {
    for (const [url, files] of certificates) {
      const index = this.listenerUrls.indexOf(url);
      if (index >= 0) this.transports.setTlsFiles(index, files);
    }
    if (certificates.size > 0)
      this.log.info({ event: 'tls-reloaded', listeners: certificates.size }, 'certificates re-read');
  }

  async stop(): Promise<void> {
    await this.stopAdmin();
    this.health.stop();
    this.alerts?.close();
    await this.transports.close();
    this.guards.close();
    this.honeypot?.close();
    await this.firewall?.close();
    this.bans.close();
  }
}

/** A banned source's connections are refused while the bans guard enforces; undefined: never. */
function refusesConnection(config: Config, bans: BanStore): ((address: string) => boolean) | undefined {
  if (config.guards.bans.mode !== 'enforce' || !config.guards.chain.includes('bans')) return undefined;
  return (address) => bans.find(address, Date.now()) !== undefined;
}

/** A TLS listener's certificate and key as they are on disk now; errors name the URL. */
function readTlsFiles(l: ListenConfig): TlsFiles {
  if (!l.cert || !l.key) throw new Error(`${l.url}: a TLS listener needs a certificate and a key`);
  try {
    return { cert: readFileSync(l.cert), key: readFileSync(l.key) };
  } catch (err) {
    throw new Error(`${l.url}: cannot read its certificate or key: ${(err as Error).message}`);
  }
}

/**
 * Every TLS listener's certificate and key, read and checked before a reload changes
 * anything: a renewal half written, or a key that does not match, fails the reload and
 * leaves the running certificates in place.
 */
function readCertificates(config: Config): Map<string, TlsFiles> {
  const out = new Map<string, TlsFiles>();
  for (const l of config.listen) {
    if (l.transport !== 'tls') continue;
    const files = readTlsFiles(l);
    try {
      createSecureContext(files);
    } catch (err) {
      throw new Error(`${l.url}: certificate and key do not make a TLS context: ${(err as Error).message}`);
    }
    out.set(l.url, files);
  }
  return out;
}

/** Binds one configured listener; returns its URL. Errors name the URL and the cause. */
async function bindListener(transports: TransportManager, l: ListenConfig): Promise<string> {
  const family: 4 | 6 = l.family === 6 ? 6 : 4;
  const spec: ListenerSpec = { transport: l.transport, address: l.host, port: l.port, family };
  if (l.advertise !== undefined) {
    spec.advertiseHost = l.advertise.family === 6 ? `[${l.advertise.host}]` : l.advertise.host;
    spec.advertisePort = l.advertise.port;
  } else {
    spec.advertiseHost = wildcardHost(l.host, family);
  }
  if (l.transport === 'tls') spec.tls = readTlsFiles(l);
  try {
    await transports.add(spec);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === 'EADDRINUSE' ? 'address already in use' : e.code === 'EACCES' ? 'permission denied' : e.message;
    throw new Error(`cannot listen on ${l.url}: ${why}`);
  }
  return l.url;
}

/**
 * The host written in headers for a listener without `advertise`: its address, or for a
 * wildcard bind the first non-internal address of the family (set `advertise` to choose).
 */
function wildcardHost(host: string, family: 4 | 6): string {
  if (host === '0.0.0.0' || host === '::') {
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) {
        if (!a.internal && (a.family === 'IPv4' ? 4 : 6) === family) return family === 6 ? `[${a.address}]` : a.address;
      }
    }
    return family === 6 ? '[::1]' : '127.0.0.1';
  }
  return family === 6 ? `[${host}]` : host;
}

/** The flow-token key: a digest of the configured or stored secret. */
function flowKey(config: Config): Buffer {
  return createHash('sha256').update(ensureSecret(config)).digest();
}

function proxyOptions(config: Config, key: Buffer, deps: Omit<ModuleDeps, 'config'>): ProxyOptions {
  // Upstream targets are inside by address and port (SipProxy.isInside); `trusted` adds
  // whole addresses and ranges.
  const trusted = buildTrustedSet({ trusted: config.trusted, upstreams: [] });
  return {
    limits: config.limits,
    badRequestPerSecond: config.replies.badRequestPerSecond,
    isTrusted: (address) => trusted.has(address),
    branchSeed: key.readUInt32BE(0),
    branchKey: createHmac('sha256', key).update('sipwarden branch').digest(),
    guardRepliesPerSecond: config.guards.repliesPerSecond,
    challengesPerSecond: config.guards.auth.challengesPerSecond,
    pipeline: new Pipeline(buildModules({ config, ...deps })),
  };
}

/**
 * sipwarden's own digest checks count as authentication attempts for brute_force, as the
 * upstream's answers do: wrong passwords, unknown users and replays are failures (the one that
 * bans the source is answered `403 Try later` instead of a new challenge), a success marks the
 * source known-good for the user.
 */
function judgeEdgeAuth(o: AuthOutcome, guards: GuardBuilder): ReplySpec | undefined {
  const bruteForce = guards.bruteForce;
  if (bruteForce === undefined) return undefined;
  if (o.outcome === 'success') {
    bruteForce.recordSuccess(o.source, o.user ?? '', o.realm, o.time);
    return undefined;
  }
  if (o.outcome === 'failure' || o.outcome === 'unknown-user' || o.outcome === 'replay') {
    return bruteForce.recordFailure(o.source, o.user ?? '', o.realm, o.time, o.method);
  }
  return undefined;
}

/** Builds the upstreams, resolving targets given by hostname once (at start and reload). */
async function resolveUpstreams(config: Config): Promise<Upstreams> {
  const specs: UpstreamSpec[] = [];
  for (const u of config.upstreams) {
    const targets: TargetSpec[] = [];
    for (const t of u.targets) {
      let address = t.host;
      let family = t.family;
      if (isIP(address) === 0) {
        let r: { address: string; family: number };
        try {
          r = await lookup(address);
        } catch {
          throw new Error(`cannot resolve upstream target ${t.url}`);
        }
        address = r.address;
        family = r.family === 6 ? 6 : 4;
      }
      const tls =
        t.transport === 'tls'
          ? {
              verify: u.tls.verify,
              ca: u.tls.ca === undefined ? undefined : readFileSync(u.tls.ca),
              // A target named by host name is checked against that name, not the resolved address.
              serverName: u.tls.serverName ?? (t.family === 0 ? t.host : undefined),
            }
          : undefined;
      targets.push({ transport: t.transport, address, port: t.port, family: family === 6 ? 6 : 4, url: t.url, tls });
    }
    specs.push({
      name: u.name,
      targets,
      ping:
        u.ping === false
          ? false
          : { intervalMs: u.ping.interval, timeoutMs: u.ping.timeout, failures: u.ping.failures },
    });
  }
  return new Upstreams(specs, config.defaultUpstream);
}
