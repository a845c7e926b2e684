/**
 * Attack benchmark: does sipwarden keep serving legitimate calls while it is flooded?
 *
 *   npx tsc -p . && node dist/bench/attack/run.js [options]
 *
 * A sipp UAS (bench/attack/uas-call.xml: test/fixtures/sipp/uas-call.xml answering BYE
 * retransmissions with its 200 again, as a PBX does) stands in for the PBX behind sipwarden; a sipp
 * UAC (uac-call.xml) on 127.0.0.1 places calls through sipwarden at a steady rate, and its
 * statistics (-trace_stat) and per-call response times (-trace_rtt: INVITE sent to 200
 * received, in whole milliseconds) give the success rate and the call setup time.
 * Three phases, each with a fresh sipwarden, UAS and data directory:
 *
 *   A  no attack: the baseline.
 *   B  100 attacker addresses (127.10.0.1-127.10.0.100) flood sipwarden with OPTIONS and
 *      INVITE datagrams as fast as a Node flooder in a child process of its own can send,
 *      while the caller runs. The flood guard should ban each of them within a window.
 *   C  a flood from a million distinct source addresses (127.16.0.0 upwards: Linux accepts
 *      any 127/8 source on lo), each bound, sending a datagram or two, and closed, at most a
 *      few hundred sockets open at once, while the caller runs. No source crosses the limit;
 *      the point is that the flood guard's memory stays bounded and sipwarden keeps serving.
 *
 * For each phase: attack packets/s actually sent, attacker addresses banned (ban lines in
 * sipwarden's log) and how long the last one took, legitimate success rate, setup time mean
 * and p99 (and their ratios to phase A), sipwarden's CPU from /proc/PID/stat over the
 * caller's run, its peak RSS (VmHWM from /proc/PID/status), and the datagrams the kernel
 * dropped for want of socket buffer space (host-wide, /proc/net/snmp).
 *
 * Everything is on loopback, ports 25500-25599 by default. Every process runs under
 * coreutils `timeout` and every load loop is bounded in count and time; only PIDs started
 * here are signalled. sipp and coreutils are needed (Debian: apt-get install sip-tester).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { table } from '../common/table.js';
import {
  type Child,
  descendants,
  killAllNow,
  refuseNewProcesses,
  startProcess,
  stopAll,
  stopProcess,
  tail,
  treeCpu,
  udpPortBound,
  udpReceiveBufferErrors,
  waitForUdpPort,
} from '../proxy/processes.js';
import { RECV_TIMEOUT_MS, readSippStats, SIPP_BUFFER_BYTES, type SippPorts } from '../proxy/sipp.js';
import type { FlooderOptions, FlooderReport } from './flooder.js';

const SERVER_IP = '127.0.0.1';
const CALLER_IP = '127.0.0.1';
/** Targets from the issue. */
const TARGET_SUCCESS_PERCENT = 99.9;
const TARGET_SETUP_RATIO = 2;
const TARGET_RSS_MB = 300;

const USAGE = `usage: node dist/bench/attack/run.js [options]
  --phases LIST          A,B,C (default all three)
  --rate N               legitimate calls per second (default 20)
  --seconds S            length of the legitimate caller's run (default 20)
  --attackers N          phase B attacker addresses, from 127.10.0.1 (default 100)
  --sources N            phase C distinct source addresses, from 127.16.0.0 (default 1000000)
  --per-source N         phase C datagrams per source address (default 2)
  --flooders N           flooder processes (default 1)
  --attack-rate N        total flood datagrams per second to aim at (default 0: as fast as possible)
  --invite-share X       share of INVITEs in the flood, 0..1 (default 0.1; the rest are OPTIONS)
  --window D             guards.flood.window (default 2s)
  --max-messages N       guards.flood.max_messages (default 400: 3.3x the caller's 120 per 2 s)
  --max-sources N        guards.flood.max_sources (default 100000)
  --ipv4-prefix N        sources.ipv4_prefix (default 32; 24 counts and bans whole /24s)
  --ban D                guards.flood.ban (default 10m)
  --without-guards       run sipwarden with guards.chain [] (a baseline without protection)
  --kernel-drop          firewall.sync: true and the ruleset of 'sipwarden firewall nftables' loaded, so
                         the kernel drops banned sources; only inside a network namespace of its own:
                           ip netns add swbench && ip netns exec swbench ip link set lo up
                           ip netns exec swbench node dist/bench/attack/run.js --kernel-drop
                           ip netns del swbench
  --base-port P          first UDP port; uses P .. P+22 (default 25500)
  --json FILE            also write the results as JSON
  --help`;

interface Options {
  phases: PhaseName[];
  rate: number;
  seconds: number;
  attackers: number;
  sources: number;
  perSource: number;
  flooders: number;
  inviteShare: number;
  attackRate: number;
  window: string;
  maxMessages: number;
  ipv4Prefix: number;
  maxSources: number;
  ban: string;
  withoutGuards: boolean;
  kernelDrop: boolean;
  basePort: number;
  json: string | undefined;
}

type PhaseName = 'A' | 'B' | 'C';

function fail(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

function parseOptions(argv: string[]): Options {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: {
        phases: { type: 'string', default: 'A,B,C' },
        rate: { type: 'string', default: '20' },
        seconds: { type: 'string', default: '20' },
        attackers: { type: 'string', default: '100' },
        sources: { type: 'string', default: '1000000' },
        'per-source': { type: 'string', default: '2' },
        flooders: { type: 'string', default: '1' },
        'invite-share': { type: 'string', default: '0.1' },
        'attack-rate': { type: 'string', default: '0' },
        window: { type: 'string', default: '2s' },
        'max-messages': { type: 'string', default: '400' },
        'ipv4-prefix': { type: 'string', default: '32' },
        'max-sources': { type: 'string', default: '100000' },
        ban: { type: 'string', default: '10m' },
        'without-guards': { type: 'boolean', default: false },
        'kernel-drop': { type: 'boolean', default: false },
        'base-port': { type: 'string', default: '25500' },
        json: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }).values;
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const number = (flag: string, min: number, max: number): number => {
    const text = String(values[flag]);
    const n = Number(text);
    if (!Number.isFinite(n) || n < min || n > max) fail(`--${flag} must be a number from ${min} to ${max}`);
    return n;
  };
  const phases = String(values.phases)
    .split(',')
    .map((p) => p.trim().toUpperCase());
  if (phases.length === 0 || phases.some((p) => p !== 'A' && p !== 'B' && p !== 'C')) {
    fail('--phases must list A, B and/or C');
  }
  const duration = (flag: string): string => {
    const text = String(values[flag]);
    if (!/^[0-9]+(ms|s|m|h)$/.test(text)) fail(`--${flag} must be a duration such as 2s or 10m`);
    return text;
  };
  return {
    phases: phases as PhaseName[],
    rate: Math.floor(number('rate', 1, 2000)),
    seconds: number('seconds', 1, 120),
    attackers: Math.floor(number('attackers', 1, 250)),
    sources: Math.floor(number('sources', 1, 15_000_000)),
    perSource: Math.floor(number('per-source', 1, 10)),
    flooders: Math.floor(number('flooders', 1, 4)),
    inviteShare: number('invite-share', 0, 1),
    attackRate: Math.floor(number('attack-rate', 0, 10_000_000)),
    window: duration('window'),
    maxMessages: Math.floor(number('max-messages', 1, 10_000_000)),
    ipv4Prefix: Math.floor(number('ipv4-prefix', 8, 32)),
    maxSources: Math.floor(number('max-sources', 100, 100_000_000)),
    ban: duration('ban'),
    withoutGuards: values['without-guards'] === true,
    kernelDrop: values['kernel-drop'] === true,
    basePort: Math.floor(number('base-port', 1024, 65_000)),
    json: typeof values.json === 'string' ? values.json : undefined,
  };
}

/** The checkout this script belongs to: the nearest package.json named "sipwarden". */
function findRepoRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'sipwarden') return dir;
      } catch {
        // Not ours; keep looking.
      }
    }
    if (dirname(dir) === dir) throw new Error('cannot find the sipwarden checkout');
  }
}

interface Ports {
  sipwarden: number;
  uas: SippPorts;
  uac: SippPorts;
}

function portPlan(base: number): Ports {
  return {
    sipwarden: base,
    uas: { sip: { ip: SERVER_IP, port: base + 1 }, control: base + 3, media: base + 10 },
    uac: { sip: { ip: CALLER_IP, port: base + 2 }, control: base + 4, media: base + 20 },
  };
}

function configYaml(options: Options, dir: string, ports: Ports): string {
  const guards = options.withoutGuards
    ? 'guards: { chain: [] }'
    : `sources: { ipv4_prefix: ${options.ipv4Prefix} }\nguards:\n  flood: { window: ${options.window}, max_messages: ${options.maxMessages}, ban: ${options.ban}, max_sources: ${options.maxSources} }`;
  return [
    `data_dir: ${join(dir, 'data')}`,
    `listen: [udp://${SERVER_IP}:${ports.sipwarden}]`,
    'upstreams:',
    `  - { name: pbx, targets: [udp://${ports.uas.sip.ip}:${ports.uas.sip.port}], ping: false }`,
    'log: { level: info }',
    guards,
    ...(options.kernelDrop ? ['firewall: { sync: true, backend: nftables, table: sipwarden_bench }'] : []),
    '',
  ].join('\n');
}

/** The named network namespace this process runs in (`ip netns identify`), or '' for the host's. */
function networkNamespace(): string {
  try {
    return execFileSync('ip', ['netns', 'identify'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

/**
 * --kernel-drop: renders the host ruleset for the phase's configuration and loads it (replacing
 * the one of the previous phase) into this network namespace, whose firewall is the bench's own.
 */
function loadRuleset(repoRoot: string, configFile: string, dir: string): void {
  const rules = execFileSync(
    process.execPath,
    [join(repoRoot, 'bin/sipwarden'), 'firewall', 'nftables', '--config', configFile],
    { encoding: 'utf8' },
  );
  const file = join(dir, 'firewall.nft');
  writeFileSync(file, rules);
  try {
    execFileSync('nft', ['delete', 'table', 'inet', 'sipwarden_bench'], { stdio: 'ignore' });
  } catch {
    // Not loaded yet.
  }
  execFileSync('nft', ['-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
}

// ---- /proc readings ----

function procStatusKb(pid: number, field: string): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${field}:`));
    return line ? Number(line.split(/\s+/)[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Datagrams the kernel dropped at the UDP sockets bound to this local port (the `drops` column of /proc/net/udp). */
function socketDrops(port: number): number {
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let drops = 0;
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[1]?.endsWith(hexPort)) drops += Number(fields[fields.length - 1]) || 0;
    }
  }
  return drops;
}

/** The node process under the `timeout` wrapper. */
async function commandPid(child: Child): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const pid = descendants(child.pid)[0];
    if (pid !== undefined) return pid;
    await sleep(20);
  }
  throw new Error(`${child.name}: no process under the timeout wrapper`);
}

// ---- sipp ----

/**
 * The stand-in PBX: sipp with bench/attack/uas-call.xml (answers BYE retransmissions), and
 * -aa to answer OPTIONS outside the scenario as a PBX answers keep-alives. No -trace_err:
 * sipp would write a line for every flood OPTIONS.
 */
async function startUas(repoRoot: string, ports: Ports, dir: string, boundSeconds: number): Promise<Child> {
  const args = [
    '-sf',
    join(repoRoot, 'bench/attack/uas-call.xml'),
    '-t',
    'u1',
    '-i',
    ports.uas.sip.ip,
    '-p',
    String(ports.uas.sip.port),
    '-cp',
    String(ports.uas.control),
    '-mp',
    String(ports.uas.media),
    '-buff_size',
    String(SIPP_BUFFER_BYTES),
    '-recv_timeout',
    String(RECV_TIMEOUT_MS),
    '-nostdin',
    '-aa',
  ];
  const child = startProcess('sipp uas', 'sipp', args, join(dir, 'uas.log'), { boundSeconds, discardStdout: true });
  await waitForUdpPort(child, ports.uas.sip.port, 5000);
  return child;
}

interface CallerRun {
  child: Child;
  statsFile: string;
  dir: string;
}

function startCaller(repoRoot: string, options: Options, ports: Ports, dir: string): CallerRun {
  const calls = Math.round(options.rate * options.seconds);
  const bound = Math.ceil(options.seconds * 2 + RECV_TIMEOUT_MS / 1000 + 20);
  const statsFile = join(dir, 'uac.stats.csv');
  const args = [
    `${SERVER_IP}:${ports.sipwarden}`,
    '-sf',
    join(repoRoot, 'test/fixtures/sipp/uac-call.xml'),
    '-t',
    'u1',
    '-i',
    ports.uac.sip.ip,
    '-p',
    String(ports.uac.sip.port),
    '-cp',
    String(ports.uac.control),
    '-mp',
    String(ports.uac.media),
    '-buff_size',
    String(SIPP_BUFFER_BYTES),
    '-recv_timeout',
    String(RECV_TIMEOUT_MS),
    '-nostdin',
    '-trace_err',
    '-error_file',
    join(dir, 'uac.errors.log'),
    '-max_log_size',
    '2000000',
    '-r',
    String(options.rate),
    '-rp',
    '1000',
    '-m',
    String(calls),
    '-timeout',
    `${bound}s`,
    '-trace_stat',
    '-stf',
    statsFile,
    '-fd',
    '1',
    // One line per call in <scenario>_<pid>_rtt.csv, in the working directory.
    '-trace_rtt',
    '-rtt_freq',
    '1',
  ];
  const child = startProcess('sipp uac', 'sipp', args, join(dir, 'uac.log'), {
    boundSeconds: bound + 5,
    discardStdout: true,
    cwd: dir,
  });
  return { child, statsFile, dir };
}

interface SetupTime {
  /** When the call started, ms after sipp started (the response's time less the setup time). */
  startMs: number;
  setupMs: number;
}

/** Per-call setup times from sipp's -trace_rtt file (`Date_ms;response_time_ms;rtd_no`). */
function readSetupTimes(dir: string): SetupTime[] {
  const file = readdirSync(dir).find((name) => name.endsWith('_rtt.csv'));
  if (!file) return [];
  return readFileSync(join(dir, file), 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.split(';').map(Number))
    .filter((f) => Number.isFinite(f[0]) && Number.isFinite(f[1]))
    .map((f) => ({ startMs: f[0]! - f[1]!, setupMs: f[1]! }));
}

/** Call numbers (1-based, in the order sipp started them) of the calls sipp reports as failed. */
function readFailedCalls(dir: string): Set<number> {
  const failed = new Set<number>();
  let text = '';
  try {
    text = readFileSync(join(dir, 'uac.errors.log'), 'utf8');
  } catch {
    return failed;
  }
  for (const m of text.matchAll(/Call-Id: (\d+)-[^,]*, [^\n]*?aborting call/g)) failed.add(Number(m[1]));
  return failed;
}

interface CallFigures {
  calls: number;
  successful: number;
  meanMs: number;
  p99Ms: number;
}

/**
 * The calls sipp started from `fromSeconds` after its start on: how many, how many did not
 * fail, their setup times. Call k starts at (k - 1) / rate.
 */
function callsFrom(
  fromSeconds: number,
  rate: number,
  calls: number,
  failed: ReadonlySet<number>,
  setup: readonly SetupTime[],
): CallFigures {
  const first = Math.max(1, Math.ceil(fromSeconds * rate) + 1);
  const count = Math.max(0, calls - first + 1);
  let failures = 0;
  for (const k of failed) if (k >= first) failures++;
  const times = setup
    .filter((t) => t.startMs >= fromSeconds * 1000)
    .map((t) => t.setupMs)
    .sort((a, b) => a - b);
  return {
    calls: count,
    successful: count - failures,
    meanMs: times.length > 0 ? times.reduce((a, b) => a + b, 0) / times.length : Number.NaN,
    p99Ms: percentile(times, 99),
  };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

// ---- flooders ----

interface FloodPlan {
  mode: 'fixed' | 'spread';
  firstAddress: string;
  addresses: number;
  perAddress: number;
  durationMs: number;
  maxPackets: number;
}

function addressPlus(ip: string, n: number): string {
  const v = ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0) + n;
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

function startFlooders(repoRoot: string, options: Options, ports: Ports, plan: FloodPlan, dir: string): Child[] {
  const children: Child[] = [];
  const share = Math.ceil(plan.addresses / options.flooders);
  for (let i = 0; i < options.flooders; i++) {
    const count = Math.min(share, plan.addresses - i * share);
    if (count <= 0) break;
    const flooderOptions: FlooderOptions = {
      mode: plan.mode,
      target: { ip: SERVER_IP, port: ports.sipwarden },
      firstAddress: addressPlus(plan.firstAddress, i * share),
      addresses: count,
      inviteShare: options.inviteShare,
      durationMs: plan.durationMs,
      maxPackets: Math.ceil(plan.maxPackets / options.flooders),
      inFlight: 512,
      perAddress: plan.perAddress,
      openSockets: 256,
      ratePps: Math.ceil(options.attackRate / options.flooders),
    };
    children.push(
      startProcess(
        `flooder ${i + 1}`,
        process.execPath,
        [join(repoRoot, 'dist/bench/attack/flooder.js'), JSON.stringify(flooderOptions)],
        join(dir, `flooder-${i + 1}.log`),
        { boundSeconds: plan.durationMs / 1000 + 30 },
      ),
    );
  }
  return children;
}

function flooderLines(child: Child): Array<Record<string, unknown>> {
  let text = '';
  try {
    text = readFileSync(child.logFile, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return {};
      }
    });
}

async function waitSending(children: readonly Child[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const child of children) {
    while (!flooderLines(child).some((l) => l.event === 'sending')) {
      if (child.hasExited()) throw new Error(`${child.name} exited before sending: ${tail(child.logFile, 5)}`);
      if (Date.now() > deadline) throw new Error(`${child.name} did not start sending within ${timeoutMs} ms`);
      await sleep(50);
    }
  }
}

function flooderReport(child: Child): FlooderReport | undefined {
  return flooderLines(child).find((l) => l.event === 'done') as FlooderReport | undefined;
}

// ---- sipwarden log ----

interface BanSummary {
  /** Distinct banned targets inside the attackers' range. */
  attackers: number;
  /** Other bans (must be none: the legitimate caller). */
  others: string[];
  /** Epoch ms of the last attacker ban. */
  lastAt: number;
}

function readBans(logFile: string, isAttacker: (ip: string) => boolean): BanSummary {
  const attackers = new Set<string>();
  const others = new Set<string>();
  let lastAt = Number.NaN;
  let text = '';
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    // No log: no bans.
  }
  for (const line of text.split('\n')) {
    if (!line.startsWith('{') || !line.includes('"ban"')) continue;
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (entry.event !== 'ban') continue;
    const target = String(entry.target ?? entry.source);
    if (isAttacker(target)) {
      attackers.add(target);
      const at = typeof entry.time === 'string' ? Date.parse(entry.time) : Number(entry.time);
      if (Number.isFinite(at) && !(at <= lastAt)) lastAt = at;
    } else {
      others.add(target);
    }
  }
  return { attackers: attackers.size, others: [...others], lastAt };
}

/** The counters of sipwarden's `stopping` log line. */
function readStopCounters(logFile: string): { requestsForwarded: number; blocked: number } {
  let text = '';
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return { requestsForwarded: Number.NaN, blocked: Number.NaN };
  }
  for (const line of text.split('\n').reverse()) {
    if (!line.includes('"stopping"')) continue;
    try {
      const entry = JSON.parse(line) as { stats?: { requestsForwarded?: number; blocked?: Record<string, number> } };
      const blocked = Object.values(entry.stats?.blocked ?? {}).reduce((a, b) => a + b, 0);
      return { requestsForwarded: entry.stats?.requestsForwarded ?? Number.NaN, blocked };
    } catch {
      // Not JSON after all.
    }
  }
  return { requestsForwarded: Number.NaN, blocked: Number.NaN };
}

// ---- one phase ----

interface PhaseResult {
  phase: PhaseName;
  description: string;
  attackPacketsPerSecond: number;
  attackPackets: number;
  attackSources: number;
  banned: number;
  bannedOthers: string[];
  /** Seconds from the flood's first datagram to the last attacker ban. */
  lastBanSeconds: number;
  /** Phase B: the calls started after the last ban. */
  afterBans: CallFigures | undefined;
  calls: number;
  successful: number;
  failed: number;
  successPercent: number;
  setupMeanMs: number;
  setupP50Ms: number;
  setupP99Ms: number;
  setupMaxMs: number;
  retransmissions: number;
  sipwardenCpuPercent: number;
  peakRssMb: number;
  udpDrops: number;
  /** Datagrams the kernel dropped at sipwarden's socket and at the UAS's (receive buffer full). */
  sipwardenDrops: number;
  uasDrops: number;
  /** From sipwarden's stop line: requests it forwarded, and messages the guards blocked. */
  requestsForwarded: number;
  blocked: number;
  callerBanned: boolean;
  logDir: string;
}

const PHASE_TEXT: Record<PhaseName, string> = {
  A: 'no attack',
  B: 'flood from a few addresses',
  C: 'flood from a million addresses',
};

async function runPhase(repoRoot: string, options: Options, ports: Ports, phase: PhaseName, workDir: string) {
  const dir = join(workDir, `phase-${phase}`);
  mkdirSync(dir, { recursive: true });
  const configFile = join(dir, 'sipwarden.yaml');
  writeFileSync(configFile, configYaml(options, dir, ports));
  if (options.kernelDrop) loadRuleset(repoRoot, configFile, dir);
  const floodSeconds = phase === 'C' ? Math.max(90, options.seconds + 30) : options.seconds + 30;
  const bound = floodSeconds + options.seconds * 2 + 120;

  const busy = [ports.sipwarden, ports.uas.sip.port, ports.uac.sip.port].filter(udpPortBound);
  if (busy.length > 0) throw new Error(`UDP port(s) ${busy.join(', ')} already in use; choose another --base-port`);

  const uas = await startUas(repoRoot, ports, dir, bound);
  const sipwarden = startProcess(
    'sipwarden',
    process.execPath,
    [join(repoRoot, 'bin/sipwarden'), 'run', '--config', configFile],
    join(dir, 'sipwarden.log'),
    { boundSeconds: bound, cwd: repoRoot },
  );
  try {
    await waitForUdpPort(sipwarden, ports.sipwarden, 15_000);
    const pid = await commandPid(sipwarden);
    let peakRssKb = 0;
    const rssTimer = setInterval(() => {
      const rss = procStatusKb(pid, 'VmRSS');
      if (rss > peakRssKb) peakRssKb = rss;
    }, 200);

    let flooders: Child[] = [];
    let floodStart = Number.NaN;
    if (phase !== 'A') {
      const plan: FloodPlan =
        phase === 'B'
          ? {
              mode: 'fixed',
              firstAddress: '127.10.0.1',
              addresses: options.attackers,
              perAddress: 1,
              durationMs: floodSeconds * 1000,
              maxPackets: 200_000_000,
            }
          : {
              mode: 'spread',
              firstAddress: '127.16.0.0',
              addresses: options.sources,
              perAddress: options.perSource,
              durationMs: floodSeconds * 1000,
              maxPackets: options.sources * options.perSource,
            };
      flooders = startFlooders(repoRoot, options, ports, plan, dir);
      await waitSending(flooders, 30_000);
      floodStart = Date.now();
    }

    const dropsBefore = udpReceiveBufferErrors();
    const cpuBefore = treeCpu(sipwarden.pid);
    const t0 = Date.now();
    const caller = startCaller(repoRoot, options, ports, dir);
    await caller.child.exited;
    const callerSeconds = (Date.now() - t0) / 1000;
    const cpuAfter = treeCpu(sipwarden.pid);
    // Phase C: the flood runs to its end (all its sources), so the peak memory covers all of them.
    if (phase === 'C') await Promise.all(flooders.map((f) => f.exited));
    for (const f of flooders) await stopProcess(f);
    const udpDrops = udpReceiveBufferErrors() - dropsBefore;
    clearInterval(rssTimer);
    const hwm = procStatusKb(pid, 'VmHWM');
    const sipwardenDrops = socketDrops(ports.sipwarden);
    const uasDrops = socketDrops(ports.uas.sip.port);
    if (sipwarden.hasExited()) throw new Error(`sipwarden exited during phase ${phase}; see ${sipwarden.logFile}`);
    // Its stop line carries the proxy's counters.
    await stopProcess(sipwarden);
    const counters = readStopCounters(sipwarden.logFile);

    const reports = flooders.map(flooderReport).filter((r): r is FlooderReport => r !== undefined);
    const attackPackets = reports.reduce((n, r) => n + r.sent, 0);
    const attackSeconds = Math.max(0, ...reports.map((r) => r.elapsedMs)) / 1000;
    const attackerPrefix = phase === 'B' ? '127.10.0.' : undefined;
    const bans = readBans(sipwarden.logFile, (ip) =>
      attackerPrefix !== undefined ? ip.startsWith(attackerPrefix) : ip.startsWith('127.') && ip !== CALLER_IP,
    );
    const stats = readSippStats(caller.statsFile);
    const setupTimes = readSetupTimes(dir);
    const setup = setupTimes.map((t) => t.setupMs).sort((a, b) => a - b);
    const calls = Math.round(options.rate * options.seconds);
    // Calls started once every attacker was banned (and half a second more): the service the
    // caller gets while the flood goes on, without the moments before the bans.
    const afterBans =
      phase === 'B' && bans.attackers > 0
        ? callsFrom((bans.lastAt - t0) / 1000 + 0.5, options.rate, calls, readFailedCalls(dir), setupTimes)
        : undefined;
    const successful = stats?.successful ?? 0;
    return {
      phase,
      description: PHASE_TEXT[phase],
      attackPacketsPerSecond: attackSeconds > 0 ? attackPackets / attackSeconds : 0,
      attackPackets,
      attackSources: reports.reduce((n, r) => n + r.sources, 0),
      banned: bans.attackers,
      bannedOthers: bans.others,
      lastBanSeconds: (bans.lastAt - floodStart) / 1000,
      afterBans,
      calls,
      successful,
      failed: stats?.failed ?? calls,
      successPercent: (100 * successful) / calls,
      setupMeanMs: setup.length > 0 ? setup.reduce((a, b) => a + b, 0) / setup.length : Number.NaN,
      setupP50Ms: percentile(setup, 50),
      setupP99Ms: percentile(setup, 99),
      setupMaxMs: setup.length > 0 ? setup[setup.length - 1]! : Number.NaN,
      retransmissions: stats?.retransmissions ?? 0,
      sipwardenCpuPercent: (100 * (cpuAfter.seconds - cpuBefore.seconds)) / callerSeconds,
      peakRssMb: Math.max(hwm, peakRssKb) / 1024,
      udpDrops,
      sipwardenDrops,
      uasDrops,
      requestsForwarded: counters.requestsForwarded,
      blocked: counters.blocked,
      callerBanned: bans.others.includes(CALLER_IP),
      logDir: dir,
    } satisfies PhaseResult;
  } finally {
    await stopProcess(sipwarden);
    await stopProcess(uas);
  }
}

// ---- report ----

function fixed(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

function ratio(n: number, base: number | undefined): string {
  return base !== undefined && Number.isFinite(n) && Number.isFinite(base) && base > 0
    ? `${(n / base).toFixed(2)}x`
    : '-';
}

function report(results: readonly PhaseResult[], options: Options): string {
  const a = results.find((r) => r.phase === 'A');
  const rows = results.map((r) => [
    `${r.phase}: ${r.description}`,
    r.phase === 'A' ? '-' : `${Math.round(r.attackPacketsPerSecond)}`,
    r.phase === 'A' ? '-' : `${r.attackSources}`,
    r.phase === 'B' ? `${r.banned}/${r.attackSources}` : r.phase === 'C' ? `${r.banned}` : '-',
    r.phase === 'B' && r.banned > 0 ? fixed(r.lastBanSeconds, 2) : '-',
    `${r.successful}/${r.calls}`,
    fixed(r.successPercent, 2),
    fixed(r.setupMeanMs, 2),
    r.phase === 'A' ? '-' : ratio(r.setupMeanMs, a?.setupMeanMs),
    fixed(r.setupP99Ms, 0),
    r.phase === 'A' ? '-' : ratio(r.setupP99Ms, a?.setupP99Ms),
    r.afterBans ? `${fixed((100 * r.afterBans.successful) / r.afterBans.calls, 2)} (${r.afterBans.calls})` : '-',
    r.afterBans ? fixed(r.afterBans.meanMs, 2) : '-',
    r.afterBans ? fixed(r.afterBans.p99Ms, 0) : '-',
    fixed(r.sipwardenCpuPercent, 0),
    fixed(r.peakRssMb, 0),
    `${r.requestsForwarded}`,
    `${r.blocked}`,
    `${r.sipwardenDrops}`,
    `${r.uasDrops}`,
  ]);
  const header = [
    'phase',
    'attack pkt/s',
    'attack srcs',
    'banned',
    'last ban s',
    'calls ok',
    'ok %',
    'setup ms',
    'vs A',
    'p99 ms',
    'vs A',
    'ok % after bans',
    'setup ms after',
    'p99 after',
    'CPU %',
    'RSS MB',
    'fwd reqs',
    'blocked',
    'sw drops',
    'UAS drops',
  ];
  const lines = [table(header, rows, new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]))];
  lines.push('');
  for (const r of results) {
    if (r.phase === 'A') continue;
    const checks = [
      `success ${fixed(r.successPercent, 2)} % (target >= ${TARGET_SUCCESS_PERCENT}): ${r.successPercent >= TARGET_SUCCESS_PERCENT ? 'met' : 'NOT met'}`,
    ];
    if (a) {
      const setupRatio = r.setupMeanMs / a.setupMeanMs;
      checks.push(
        `setup time ${ratio(r.setupMeanMs, a.setupMeanMs)} of A (target <= ${TARGET_SETUP_RATIO}x): ${setupRatio <= TARGET_SETUP_RATIO ? 'met' : 'NOT met'}`,
      );
    }
    if (r.phase === 'C') {
      checks.push(
        `peak RSS ${fixed(r.peakRssMb, 0)} MB (target < ${TARGET_RSS_MB}): ${r.peakRssMb < TARGET_RSS_MB ? 'met' : 'NOT met'}`,
      );
    }
    if (r.phase === 'B' && !options.withoutGuards) {
      checks.push(`attackers banned ${r.banned}/${r.attackSources}`);
    }
    if (r.afterBans && a) {
      const ok = (100 * r.afterBans.successful) / r.afterBans.calls;
      checks.push(
        `after the bans: success ${fixed(ok, 2)} % ${ok >= TARGET_SUCCESS_PERCENT ? 'met' : 'NOT met'}, setup ${ratio(r.afterBans.meanMs, a.setupMeanMs)} of A ${r.afterBans.meanMs / a.setupMeanMs <= TARGET_SETUP_RATIO ? 'met' : 'NOT met'}`,
      );
    }
    if (r.callerBanned) checks.push('THE LEGITIMATE CALLER WAS BANNED');
    const others = r.bannedOthers.filter((ip) => ip !== CALLER_IP);
    if (others.length > 0) checks.push(`other bans: ${others.slice(0, 5).join(', ')}`);
    lines.push(`  ${r.phase}: ${checks.join('; ')}`);
  }
  return lines.join('\n');
}

function commandLine(): string {
  const script = relative(process.cwd(), process.argv[1] ?? 'dist/bench/attack/run.js');
  return ['node', script, ...process.argv.slice(2)].join(' ');
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const repoRoot = findRepoRoot();
  try {
    execFileSync('sipp', ['-v'], { stdio: 'ignore' });
  } catch (err) {
    // sipp -v exits non-zero on some versions; only a missing binary matters.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      console.error('sipp is needed (Debian: apt-get install sip-tester)');
      process.exit(1);
    }
  }
  if (options.kernelDrop && networkNamespace() === '') {
    console.error(
      '--kernel-drop loads a firewall ruleset: run it inside a network namespace of its own (see --help), never on the host',
    );
    process.exit(2);
  }
  if (options.kernelDrop && options.withoutGuards) fail('--kernel-drop needs the guards: leave out --without-guards');
  const ports = portPlan(options.basePort);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const workDir = resolve(repoRoot, '.bench-tmp', 'attack', stamp);
  mkdirSync(workDir, { recursive: true });

  console.log('Attack benchmark: sipp caller -> sipwarden -> sipp UAS on loopback UDP, with and without a flood');
  console.log(`  command: ${commandLine()}`);
  console.log(`  node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} x${cpus().length}`);
  console.log(
    `  caller: ${options.rate} calls/s for ${options.seconds} s from ${CALLER_IP}:${ports.uac.sip.port}; sipwarden ${SERVER_IP}:${ports.sipwarden}; UAS ${SERVER_IP}:${ports.uas.sip.port}`,
  );
  console.log(
    options.withoutGuards
      ? '  sipwarden WITHOUT guards (guards.chain: [])'
      : `  guards.flood: window ${options.window}, max_messages ${options.maxMessages}, ban ${options.ban}, max_sources ${options.maxSources}; sources.ipv4_prefix ${options.ipv4Prefix}`,
  );
  if (options.kernelDrop) {
    console.log(
      `  kernel drop: firewall.sync on, the rendered nftables ruleset loaded in network namespace ${networkNamespace()}`,
    );
  }
  console.log(
    `  flood: ${options.flooders} flooder process(es) ${options.attackRate > 0 ? `aiming at ${options.attackRate} datagrams/s` : 'as fast as they can'}, ${Math.round(options.inviteShare * 100)} % INVITE / ${Math.round((1 - options.inviteShare) * 100)} % OPTIONS; B: ${options.attackers} addresses from 127.10.0.1; C: ${options.sources} addresses from 127.16.0.0, ${options.perSource} datagram(s) each`,
  );
  console.log(`  logs: ${relative(process.cwd(), workDir)}`);

  let stopping = false;
  const onSignal = (): void => {
    if (stopping) return;
    stopping = true;
    refuseNewProcesses();
    console.log('\ninterrupted: stopping the processes started here');
    void stopAll().then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', killAllNow);

  const results: PhaseResult[] = [];
  for (const phase of options.phases) {
    console.log(`\n== phase ${phase}: ${PHASE_TEXT[phase]}`);
    try {
      const r = await runPhase(repoRoot, options, ports, phase, workDir);
      results.push(r);
      console.log(
        `  calls ${r.successful}/${r.calls} ok, setup mean ${fixed(r.setupMeanMs, 2)} ms p99 ${fixed(r.setupP99Ms, 0)} ms, sipwarden CPU ${fixed(r.sipwardenCpuPercent, 0)} %, peak RSS ${fixed(r.peakRssMb, 0)} MB` +
          (phase === 'A'
            ? ''
            : `; attack ${Math.round(r.attackPacketsPerSecond)} pkt/s from ${r.attackSources} sources (${r.attackPackets} sent), ${r.banned} banned`),
      );
    } catch (err) {
      console.log(`  !! phase ${phase} failed: ${(err as Error).message}`);
    }
    await sleep(2000);
  }

  console.log(`\n${report(results, options)}`);
  console.log(
    '\nsetup = INVITE sent to 200 received at the caller (sipp -trace_rtt, whole ms); CPU % of one core over the caller run;',
  );
  console.log(
    'after bans = the calls started from half a second after the last attacker was banned (their count in brackets);',
  );
  console.log(
    'RSS = VmHWM of the sipwarden process; fwd reqs = requests sipwarden forwarded to the UAS (the caller sends 3 a call,',
  );
  console.log(
    'the rest leaked from the flood); blocked = messages the guards blocked; sw/UAS drops = datagrams the kernel dropped',
  );
  console.log(
    "at sipwarden's / the UAS's socket for want of buffer space (/proc/net/udp; the host-wide count is in the JSON).",
  );
  if (options.json) writeFileSync(options.json, `${JSON.stringify({ options, results }, null, 2)}\n`);
  await stopAll();
}

main().catch(async (err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  await stopAll();
  process.exit(1);
});
