/**
 * The proxies under test. Each one knows how to start itself listening on one UDP port and
 * forwarding to one upstream (the sipp UAS); the harness does the rest. To add a proxy, add an
 * entry to PROXIES.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Child, startProcess, stopProcess, waitForUdpPort } from './processes.js';
import type { Endpoint } from './sipp.js';

export interface ProxyStartContext {
  repoRoot: string;
  /** A directory of this proxy's own for logs and runtime files. */
  workDir: string;
  listen: Endpoint;
  upstream: Endpoint;
  /** The loopback address the load generator sends from (exempt from flood bans). */
  generatorIp: string;
  /** Seconds after which the proxy is stopped in any case. */
  boundSeconds: number;
}

export interface ProxyUnderTest {
  readonly name: string;
  readonly description: string;
  /** Why it cannot run here (missing binary, ...), or undefined when it can. */
  unavailable(repoRoot: string): string | undefined;
  /** Its version, for the report. */
  version(repoRoot: string): string;
  /** Starts it; resolves once it listens. */
  start(context: ProxyStartContext): Promise<Child>;
}

/** Shared memory for Kamailio: stateful forwarding needs this much at thousands of calls/s. */
const KAMAILIO_SHM_MB = 2048;

/**
 * Kamailio's memory managers (-x, for shared and private memory). Debian's build defaults to
 * "qm", the debugging allocator: on these machines qm_malloc takes about 78 % of a stateless
 * worker's CPU (perf) and Kamailio manages ~1,500 calls per CPU-second; "fm" (fast malloc, the
 * production choice) ~8,500 and "tlsf" ~10,000 at 2,000 calls/s.
 */
export const KAMAILIO_MEMORY_MANAGERS = ['fm', 'tlsf', 'qm'] as const;
export type KamailioMemoryManager = (typeof KAMAILIO_MEMORY_MANAGERS)[number];

export interface ProxyOptions {
  /** Extra arguments for `sipwarden run`. */
  sipwardenArgs: readonly string[];
  kamailioMemory: KamailioMemoryManager;
  /** A built checkout of another commit, run as `sipwarden-baseline`. */
  baselineRoot?: string | undefined;
}

function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    if (dir !== '' && existsSync(join(dir, command))) return join(dir, command);
  }
  return undefined;
}

async function startListening(child: Child, port: number): Promise<Child> {
  try {
    await waitForUdpPort(child, port, 15000);
  } catch (err) {
    await stopProcess(child);
    throw err;
  }
  return child;
}

function kamailio(
  name: string,
  configFile: string,
  description: string,
  memoryManager: KamailioMemoryManager,
  defines: readonly string[] = [],
): ProxyUnderTest {
  return {
    name,
    description,
    unavailable(repoRoot) {
      if (!onPath('kamailio'))
        return 'kamailio is not installed (Debian: apt-get install kamailio kamailio-extra-modules)';
      if (!existsSync(join(repoRoot, 'bench/proxy', configFile))) return `bench/proxy/${configFile} is missing`;
      return undefined;
    },
    version() {
      try {
        const out = execFileSync(onPath('kamailio') ?? 'kamailio', ['-v'], { encoding: 'utf8' });
        return (
          out
            .split('\n')[0]
            ?.replace(/^version:\s*/, '')
            .trim() ?? 'unknown'
        );
      } catch {
        return 'unknown';
      }
    },
    async start(context) {
      const runDir = join(context.workDir, 'run');
      mkdirSync(runDir, { recursive: true });
      // secfilter (protected config) reads its blacklist through db_text; give Kamailio a copy
      // so it never writes into the repository.
      const dbDir = join(context.workDir, 'dbtext');
      cpSync(join(context.repoRoot, 'bench/proxy/kamailio-dbtext'), dbDir, { recursive: true });
      const args = [
        '-f',
        join(context.repoRoot, 'bench/proxy', configFile),
        '-DD', // stay in the foreground (the workers are still forked), so its PID is ours
        '-E', // log to stderr, i.e. to the log file
        '-m',
        String(KAMAILIO_SHM_MB),
        '-x',
        memoryManager,
        '-Y',
        runDir,
        '-l',
        `udp:${context.listen.ip}:${context.listen.port}`,
        '-A',
        `UPSTREAM_URI="sip:${context.upstream.ip}:${context.upstream.port}"`,
        '-A',
        `BENCH_SOURCE_IP="${context.generatorIp}"`,
        '-A',
        `SECFILTER_DB_URL="text://${dbDir}"`,
        ...defines.flatMap((d) => ['-A', d]),
      ];
      const child = startProcess(name, onPath('kamailio') ?? 'kamailio', args, join(context.workDir, `${name}.log`), {
        cwd: context.workDir,
        boundSeconds: context.boundSeconds,
      });
      return startListening(child, context.listen.port);
    },
  };
}

/**
 * sipwarden with its full default guard chain (acl, bans, flood, scanner, sanity), as
 * `sipwarden run --config` with only the flood density raised so the load generator, one
 * address sending thousands of requests a second, is counted but not banned (as the
 * protected Kamailio does for it). Extra arguments come from --sipwarden-arg.
 */
function sipwarden(extraArgs: readonly string[], hide = true, baselineRoot?: string): ProxyUnderTest {
  // The baseline is another checkout (built), e.g. the commit before a change, run the same way.
  const bin = (repoRoot: string): string => join(baselineRoot ?? repoRoot, 'bin/sipwarden');
  const name = baselineRoot !== undefined ? 'sipwarden-baseline' : hide ? 'sipwarden' : 'sipwarden-no-hiding';
  return {
    name,
    description:
      baselineRoot !== undefined
        ? `sipwarden as configured for "sipwarden", from the checkout at ${baselineRoot}`
        : hide
          ? 'sipwarden (Node), every guard on, topology hiding on (defaults); flood density raised above the generator rate'
          : 'sipwarden as above with topology hiding and header hygiene off (topology.hide: false)',
    unavailable(repoRoot) {
      if (!existsSync(bin(repoRoot))) return `${bin(repoRoot)} does not exist yet`;
      return undefined;
    },
    version(repoRoot) {
      for (const flag of ['version', '--version']) {
        try {
          const out = execFileSync(process.execPath, [bin(repoRoot), flag], {
            encoding: 'utf8',
            timeout: 10000,
            stdio: ['ignore', 'pipe', 'ignore'],
          });
          const line = out.trim().split('\n')[0];
          if (line) return line;
        } catch {
          // Try the next spelling.
        }
      }
      return 'unknown';
    },
    async start(context) {
      const config = join(context.workDir, `${name}.yaml`);
      writeFileSync(
        config,
        [
          `data_dir: ${join(context.workDir, `${name}-data`)}`,
          `listen: [udp://${context.listen.ip}:${context.listen.port}]`,
          `upstreams: [{ name: pbx, targets: ["udp://${context.upstream.ip}:${context.upstream.port}"], ping: false }]`,
          'guards: { flood: { max_messages: 10000000 } }',
          ...(hide ? [] : ['topology: { hide: false }']),
          '',
        ].join('\n'),
      );
      const args = [bin(context.repoRoot), 'run', '--config', config, ...extraArgs];
      const child = startProcess(name, process.execPath, args, join(context.workDir, `${name}.log`), {
        cwd: baselineRoot ?? context.repoRoot,
        boundSeconds: context.boundSeconds,
      });
      return startListening(child, context.listen.port);
    },
  };
}

export function allProxies(options: ProxyOptions): ProxyUnderTest[] {
  const memory = options.kamailioMemory;
  return [
    sipwarden(options.sipwardenArgs),
    ...(options.baselineRoot !== undefined ? [sipwarden(options.sipwardenArgs, true, options.baselineRoot)] : []),
    sipwarden(options.sipwardenArgs, false),
    kamailio(
      'kamailio-plain',
      'kamailio-plain.cfg',
      `Kamailio, stateless forward(), record-route, no protection, 8 UDP workers, -x ${memory}`,
      memory,
    ),
    kamailio(
      'kamailio-protected',
      'kamailio-protected.cfg',
      `Kamailio, as plain + htable bans, pike, secfilter UA and SQLi checks, 8 UDP workers, -x ${memory}`,
      memory,
    ),
    kamailio(
      'kamailio-topoh',
      'kamailio-protected.cfg',
      `Kamailio, as protected + topoh (Via, Record-Route, Contact, Call-ID masked), 8 UDP workers, -x ${memory}`,
      memory,
      ['WITH_TOPOH'],
    ),
  ];
}
