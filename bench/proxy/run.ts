/**
 * Proxy benchmark: sipp UAC -> proxy -> sipp UAS on loopback UDP, for sipwarden and for
 * Kamailio (plain stateless forwarder, and with the seed's protections), with the call
 * scenario (INVITE/ACK/BYE) and with OPTIONS transactions.
 *
 *   npx tsc -p . && node dist/bench/proxy/run.js [options]
 *
 * For each proxy and scenario it steps the offered rate up a ladder, each step a bounded sipp
 * run (rate x step seconds calls), and finds the highest rate sustained: under 1 % of the calls
 * failed or unfinished, and at least 90 % of the offered rate achieved (successful calls over
 * the time sipp took to create them all). Around each step it reads the CPU time of every
 * process of the proxy from /proc, giving calls per proxy CPU-second. It ends with a summary
 * and the ratios sipwarden / kamailio-plain and sipwarden / kamailio-protected. Same scenarios,
 * same sipp options, same ports layout for every proxy; each proxy on ports of its own.
 * docs/bench-proxy-kamailio.md describes the method and the Kamailio configurations.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  type Child,
  cpuFollower,
  cpuOutside,
  hostSnapshot,
  killAllNow,
  refuseNewProcesses,
  stopAll,
  stopProcess,
  tail,
  treeCpu,
  udpPortBound,
  udpReceiveBufferErrors,
} from './processes.js';
import { allProxies, KAMAILIO_MEMORY_MANAGERS, type KamailioMemoryManager, type ProxyUnderTest } from './proxies.js';
import {
  ratios,
  type ScenarioName,
  type ScenarioResult,
  type StepResult,
  stepHeaderLine,
  stepLine,
  summaryText,
  UNITS,
} from './report.js';
import {
  type Endpoint,
  RECV_TIMEOUT_MS,
  readSippStats,
  type SippPorts,
  sippVersion,
  startUac,
  startUas,
} from './sipp.js';

/** The load generator's own loopback address: the only source Kamailio's pike ban exempts. */
const GENERATOR_IP = '127.0.0.2';
/** Proxies and the stand-in PBX (sipp UAS). */
const SERVER_IP = '127.0.0.1';

const MAX_FAILED_PERCENT = 1;
const MIN_ACHIEVED_SHARE = 0.9;
/**
 * The machine is shared: a step during which processes outside the benchmark used more than this
 * share of all CPUs is "disturbed", and repeated if it failed. Before each step the harness waits
 * (up to QUIET_WAIT_SECONDS) for a second in which they use less.
 */
const MAX_OTHER_CPU_SHARE = 0.05;
const QUIET_WAIT_SECONDS = 120;

interface ScenarioSpec {
  name: ScenarioName;
  uac: string;
  uas: string;
  /** Default rates per second, low to high. */
  ladder: number[];
}

const SCENARIOS: readonly ScenarioSpec[] = [
  {
    name: 'call',
    uac: 'test/fixtures/sipp/uac-call.xml',
    uas: 'test/fixtures/sipp/uas-call.xml',
    ladder: [1000, 2000, 4000, 6000, 8000, 10000, 12000, 14000, 16000, 20000, 25000],
  },
  {
    name: 'options',
    uac: 'test/fixtures/sipp/uac-options.xml',
    uas: 'test/fixtures/sipp/uas-options.xml',
    ladder: [2000, 5000, 10000, 15000, 20000, 25000, 30000, 35000, 40000, 50000],
  },
];

const USAGE = `usage: node dist/bench/proxy/run.js [options]
  --only LIST          comma-separated proxies: sipwarden,sipwarden-baseline,sipwarden-no-hiding,kamailio-plain,kamailio-protected,kamailio-topoh (default all)
  --scenario S         call | options | both (default both)
  --max-rate N         highest rate offered, per second (default: the top of each ladder)
  --rates LIST         comma-separated rates replacing the ladders, e.g. 1000,5000,9000
  --step-seconds S     length of one step; each step offers rate x S calls (default 5)
  --refine N           bisection steps between the last sustained and the first failed rate (default 2)
  --cooldown S         pause between steps, to let the proxy drain (default 2)
  --base-port P        first UDP port; proxy k uses P+100k .. P+100k+22 (default 25060)
  --sipwarden-arg=ARG  extra argument for \`sipwarden run\` (repeatable; write --sipwarden-arg=--config)
  --baseline DIR       also run the sipwarden of another built checkout (e.g. the commit before a
                       change) as sipwarden-baseline, same configuration, and print the ratio
  --kamailio-mem M     Kamailio memory manager (-x): fm, tlsf or qm (default fm; Debian's default qm is
                       a debugging allocator that costs Kamailio about 5x the CPU per call)
  --retries N          times a failed step disturbed by other processes is repeated (default 2)
  --json FILE          also write the results as JSON
  --help

Ladders: call ${SCENARIOS[0]!.ladder.join(',')}
         options ${SCENARIOS[1]!.ladder.join(',')}`;

interface Options {
  only: string[] | undefined;
  scenarios: ScenarioName[];
  maxRate: number | undefined;
  rates: number[] | undefined;
  stepSeconds: number;
  refine: number;
  cooldownSeconds: number;
  retries: number;
  basePort: number;
  sipwardenArgs: string[];
  baselineRoot: string | undefined;
  kamailioMemory: KamailioMemoryManager;
  json: string | undefined;
}

function fail(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

function readArgs(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      only: { type: 'string' },
      scenario: { type: 'string', default: 'both' },
      'max-rate': { type: 'string' },
      rates: { type: 'string' },
      'step-seconds': { type: 'string', default: '5' },
      refine: { type: 'string', default: '2' },
      cooldown: { type: 'string', default: '2' },
      retries: { type: 'string', default: '2' },
      'base-port': { type: 'string', default: '25060' },
      'sipwarden-arg': { type: 'string', multiple: true },
      baseline: { type: 'string' },
      'kamailio-mem': { type: 'string', default: 'fm' },
      json: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
}

function parseOptions(argv: string[]): Options {
  let values: ReturnType<typeof readArgs>['values'];
  try {
    values = readArgs(argv).values;
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const number = (flag: string, text: string, min: number): number => {
    const n = Number(text);
    if (!Number.isFinite(n) || n < min) fail(`--${flag} must be a number >= ${min}, got ${JSON.stringify(text)}`);
    return n;
  };
  const scenario = values.scenario;
  if (scenario !== 'call' && scenario !== 'options' && scenario !== 'both') {
    fail(`--scenario must be call, options or both, got ${JSON.stringify(scenario)}`);
  }
  const kamailioMemory = values['kamailio-mem'];
  if (!(KAMAILIO_MEMORY_MANAGERS as readonly string[]).includes(kamailioMemory)) {
    fail(`--kamailio-mem must be one of ${KAMAILIO_MEMORY_MANAGERS.join(', ')}, got ${JSON.stringify(kamailioMemory)}`);
  }
  const basePort = Math.floor(number('base-port', values['base-port'], 1024));
  if (basePort + 400 > 65535) fail('--base-port too high');
  return {
    only: values.only
      ?.split(',')
      .map((name) => name.trim())
      .filter((name) => name !== ''),
    scenarios: scenario === 'both' ? ['call', 'options'] : [scenario],
    maxRate: values['max-rate'] === undefined ? undefined : number('max-rate', values['max-rate'], 1),
    rates: values.rates
      ?.split(',')
      .map((text) => Math.floor(number('rates', text.trim(), 1)))
      .sort((a, b) => a - b),
    stepSeconds: number('step-seconds', values['step-seconds'], 1),
    refine: Math.floor(number('refine', values.refine, 0)),
    cooldownSeconds: number('cooldown', values.cooldown, 0),
    retries: Math.floor(number('retries', values.retries, 0)),
    basePort,
    sipwardenArgs: values['sipwarden-arg'] ?? [],
    baselineRoot: values.baseline === undefined ? undefined : resolve(values.baseline),
    kamailioMemory: kamailioMemory as KamailioMemoryManager,
    json: values.json,
  };
}

/** The checkout this script belongs to: the nearest package.json named "sipwarden". */
function findRepoRoot(): string {
  const starts = [dirname(fileURLToPath(import.meta.url)), process.cwd()];
  for (const start of starts) {
    for (let dir = resolve(start); ; dir = dirname(dir)) {
      const manifest = join(dir, 'package.json');
      if (existsSync(manifest)) {
        try {
          if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'sipwarden') return dir;
        } catch {
          // Not ours; keep looking.
        }
      }
      if (dirname(dir) === dir) break;
    }
  }
  throw new Error('cannot find the sipwarden checkout (package.json named "sipwarden"); run from inside it');
}

interface PortPlan {
  proxy: Endpoint;
  uas: SippPorts;
  uac: SippPorts;
}

function portPlan(basePort: number, proxyIndex: number): PortPlan {
  const base = basePort + 100 * proxyIndex;
  return {
    proxy: { ip: SERVER_IP, port: base },
    uas: { sip: { ip: SERVER_IP, port: base + 1 }, control: base + 3, media: base + 10 },
    uac: { sip: { ip: GENERATOR_IP, port: base + 2 }, control: base + 4, media: base + 20 },
  };
}

class ProxyDied extends Error {}

interface ScenarioContext {
  repoRoot: string;
  proxy: ProxyUnderTest;
  proxyChild: Child;
  scenario: ScenarioSpec;
  ports: PortPlan;
  logDir: string;
  stepSeconds: number;
  /** Seconds after which the sipp UAS is stopped in any case (the proxy's own bound). */
  boundSeconds: number;
}

interface StepContext extends ScenarioContext {
  /** The stand-in PBX, up for the whole scenario like a real upstream (it answers pings). */
  uas: Child;
}

/** Seconds a sipp UAC may take for a step before it is killed: the step, plus time for stragglers. */
function uacBoundSeconds(calls: number, rate: number): number {
  return Math.ceil(calls / rate) * 2 + RECV_TIMEOUT_MS / 1000 + 10;
}

/** Numbers the steps of a run, so repeated rates keep their own log files. */
let stepCount = 0;

/** One step: a UAC offering `rate` for `calls` calls, the CPU of everything read around it. */
async function runStep(ctx: StepContext, rate: number, calls: number): Promise<StepResult> {
  stepCount++;
  const tag = `${String(stepCount).padStart(3, '0')}-${ctx.proxy.name}-${ctx.scenario.name}-${rate}`;
  const uacBound = uacBoundSeconds(calls, rate);
  const uas = ctx.uas;
  if (uas.hasExited()) throw new Error(`the sipp UAS exited before the ${rate}/s step; see ${uas.logFile}`);
  const hostBefore = hostSnapshot();
  const dropsBefore = udpReceiveBufferErrors();
  const proxyBefore = treeCpu(ctx.proxyChild.pid);
  const uasBefore = treeCpu(uas.pid);
  const uac = startUac(
    join(ctx.repoRoot, ctx.scenario.uac),
    ctx.ports.uac,
    ctx.ports.proxy,
    rate,
    calls,
    // At most one second of calls open at once: a proxy slower than that is not keeping up.
    Math.max(200, rate),
    ctx.logDir,
    `${tag}-uac`,
    uacBound,
  );
  const uacCpu = cpuFollower(uac.child.pid);
  const exit = await uac.child.exited;
  const uacSample = uacCpu.stop();
  const proxyAfter = treeCpu(ctx.proxyChild.pid);
  const uasAfter = treeCpu(uas.pid);
  const dropsAfter = udpReceiveBufferErrors();
  const hostAfter = hostSnapshot();
  if (ctx.proxyChild.hasExited()) {
    throw new ProxyDied(`${ctx.proxy.name} exited during the ${rate}/s step; see ${ctx.proxyChild.logFile}`);
  }

  const stats = readSippStats(uac.statsFile);
  const successful = stats?.successful ?? 0;
  const elapsed = stats && stats.elapsedSeconds > 0 ? stats.elapsedSeconds : Number.NaN;
  // When sipp had created every call: the offered load lasted this long.
  const generation = stats?.timeline.find((point) => point.created >= calls)?.at ?? elapsed;
  const achievedRate = successful / generation;
  const failedPercent = (100 * (calls - successful)) / calls;
  const proxyCpuSeconds = proxyAfter.seconds - proxyBefore.seconds;
  const otherCpuSeconds = cpuOutside(hostBefore, hostAfter);
  const disturbed = otherCpuSeconds > MAX_OTHER_CPU_SHARE * cpus().length * (hostAfter.at - hostBefore.at);
  const killed = exit.signal !== null || exit.code === 124 || exit.code === 137;
  const reasons: string[] = [];
  if (!stats) reasons.push(`no sipp statistics (exit ${exit.signal ?? exit.code}; see ${uac.child.logFile})`);
  if (killed) reasons.push('sipp killed at its time bound');
  if (failedPercent >= MAX_FAILED_PERCENT) reasons.push(`${failedPercent.toFixed(2)} % failed`);
  if (!(achievedRate >= MIN_ACHIEVED_SHARE * rate)) {
    reasons.push(`${Math.round((100 * achievedRate) / rate) || 0} % of the rate achieved`);
  }
  return {
    offeredRate: rate,
    offered: calls,
    successful,
    failed: stats?.failed ?? 0,
    failedPercent,
    elapsedSeconds: elapsed,
    generationSeconds: generation,
    achievedRate,
    responseTimeMs: stats?.responseTimeMs ?? Number.NaN,
    proxyCpuSeconds,
    proxyProcesses: proxyAfter.processes,
    perProxyCpuSecond: successful / proxyCpuSeconds,
    uacCpuSeconds: uacSample.seconds,
    uasCpuSeconds: uasAfter.seconds - uasBefore.seconds,
    retransmissions: stats?.retransmissions ?? 0,
    udpDrops: dropsAfter - dropsBefore,
    otherCpuSeconds,
    disturbed,
    sustained: reasons.length === 0,
    verdict: `${reasons.join(', ')}${reasons.length > 0 && disturbed ? ' (disturbed)' : ''}`,
    statsFile: uac.statsFile,
    errorsFile: join(ctx.logDir, `${tag}-uac.errors.log`),
  };
}

function ladderFor(spec: ScenarioSpec, options: Options): number[] {
  const rates = options.rates ?? spec.ladder;
  const capped = rates.filter((rate) => options.maxRate === undefined || rate <= options.maxRate);
  if (options.maxRate !== undefined && options.rates === undefined && !capped.includes(options.maxRate)) {
    capped.push(options.maxRate);
  }
  return capped.length > 0 ? capped : [Math.floor(options.maxRate ?? 1000)];
}

/** Rounds a bisection midpoint to a readable rate. */
function roundRate(rate: number): number {
  const grain = rate >= 5000 ? 250 : rate >= 1000 ? 100 : 10;
  return Math.round(rate / grain) * grain;
}

/**
 * Waits for a second in which processes outside the benchmark use less than
 * MAX_OTHER_CPU_SHARE of the machine, at most QUIET_WAIT_SECONDS.
 */
async function waitForQuiet(): Promise<void> {
  const deadline = Date.now() + QUIET_WAIT_SECONDS * 1000;
  let announced = false;
  for (;;) {
    const before = hostSnapshot();
    await sleep(1000);
    const other = cpuOutside(before, hostSnapshot());
    if (other <= MAX_OTHER_CPU_SHARE * cpus().length) return;
    if (Date.now() > deadline) {
      console.log(`  (other processes still use ${other.toFixed(2)} CPU-s/s; going on after ${QUIET_WAIT_SECONDS} s)`);
      return;
    }
    if (!announced) {
      console.log(`  (waiting for other processes to quieten: ${other.toFixed(2)} CPU-s/s)`);
      announced = true;
    }
  }
}

/** Starts the scenario's UAS, runs the smoke test and the ladder, stops the UAS. */
async function measureScenario(ctx: ScenarioContext, options: Options): Promise<ScenarioResult> {
  const uas = await startUas(
    join(ctx.repoRoot, ctx.scenario.uas),
    ctx.ports.uas,
    ctx.logDir,
    `${ctx.proxy.name}-${ctx.scenario.name}-uas`,
    ctx.boundSeconds,
  );
  try {
    return await runLadder({ ...ctx, uas }, options);
  } finally {
    await stopProcess(uas);
  }
}

async function runLadder(ctx: StepContext, options: Options): Promise<ScenarioResult> {
  const result: ScenarioResult = {
    proxy: ctx.proxy.name,
    scenario: ctx.scenario.name,
    status: 'measured',
    steps: [],
    discarded: [],
  };
  const unit = UNITS[ctx.scenario.name];

  // A few calls at a low rate first: if these fail, the path through the proxy is broken and a
  // ladder would only measure timeouts.
  const smoke = await runStep(ctx, 20, 20);
  if (smoke.successful !== smoke.offered) {
    result.status = 'failed';
    result.error = `smoke test failed: ${smoke.successful}/${smoke.offered} ${unit.plural} at 20/s; see ${smoke.errorsFile}`;
    console.log(`  !! ${result.error}`);
    const detail = tail(smoke.errorsFile, 12);
    if (detail !== '') console.log(detail.replace(/^/gm, '     '));
    return result;
  }
  console.log(`  smoke test: ${smoke.successful}/${smoke.offered} ${unit.plural} at 20/s through ${ctx.proxy.name}`);
  console.log(stepHeaderLine());

  const step = async (rate: number): Promise<StepResult> => {
    const calls = Math.max(1, Math.round(rate * ctx.stepSeconds));
    for (let attempt = 0; ; attempt++) {
      await waitForQuiet();
      const s = await runStep(ctx, rate, calls);
      const repeat = !s.sustained && s.disturbed && attempt < options.retries;
      console.log(`${stepLine(s)}${repeat ? ', repeating' : ''}`);
      // After a failed step, let the UAS give up its unfinished calls before the next one.
      const cooldown = s.sustained
        ? options.cooldownSeconds
        : Math.max(options.cooldownSeconds, RECV_TIMEOUT_MS / 1000 + 1);
      await sleep(cooldown * 1000);
      if (!repeat) {
        result.steps.push(s);
        return s;
      }
      result.discarded.push(s);
    }
  };

  let lastSustained: number | undefined;
  let firstFailed: number | undefined;
  for (const rate of ladderFor(ctx.scenario, options)) {
    const s = await step(rate);
    if (s.sustained) {
      lastSustained = rate;
    } else {
      firstFailed = rate;
      break;
    }
  }
  if (firstFailed !== undefined) {
    let low = lastSustained ?? 0;
    let high = firstFailed;
    for (let i = 0; i < options.refine; i++) {
      const mid = roundRate((low + high) / 2);
      if (mid <= low || mid >= high) break;
      if ((await step(mid)).sustained) low = mid;
      else high = mid;
    }
  }
  const sustained = result.steps.filter((s) => s.sustained);
  result.best = sustained.reduce<StepResult | undefined>(
    (best, s) => (best === undefined || s.offeredRate > best.offeredRate ? s : best),
    undefined,
  );
  result.limitNotReached = firstFailed === undefined;
  return result;
}

function toolVersion(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const out = (err as { stdout?: string }).stdout;
    if (typeof out === 'string' && out !== '') return out;
    throw err;
  }
}

function commandLine(): string {
  const script = relative(process.cwd(), process.argv[1] ?? 'dist/bench/proxy/run.js');
  return ['node', ...process.execArgv, script, ...process.argv.slice(2)].join(' ');
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const repoRoot = findRepoRoot();
  const proxies = allProxies({
    sipwardenArgs: options.sipwardenArgs,
    kamailioMemory: options.kamailioMemory,
    baselineRoot: options.baselineRoot,
  });
  const unknown = (options.only ?? []).filter((name) => !proxies.some((p) => p.name === name));
  if (unknown.length > 0) fail(`unknown proxy in --only: ${unknown.join(', ')}`);
  const selected = options.only ? proxies.filter((p) => options.only!.includes(p.name)) : proxies;

  let sipp: string;
  try {
    sipp = sippVersion(toolVersion('sipp', ['-v']));
    toolVersion('timeout', ['--version']);
  } catch {
    console.error('sipp and coreutils timeout are needed (Debian: apt-get install sip-tester)');
    process.exit(1);
  }

  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const workDir = join(repoRoot, '.bench-tmp', 'proxy', stamp);
  mkdirSync(workDir, { recursive: true });
  const scenarios = SCENARIOS.filter((s) => options.scenarios.includes(s.name));

  console.log('SIP proxy benchmark: sipp UAC -> proxy -> sipp UAS, UDP on loopback');
  console.log(`  command: ${commandLine()}`);
  console.log(
    `  node ${process.version}, ${process.platform}/${process.arch}, ${cpus()[0]?.model ?? 'unknown CPU'} x${cpus().length}; ${sipp}`,
  );
  console.log(
    `  steps of ${options.stepSeconds} s, each offering rate x ${options.stepSeconds} calls; sustained = < ${MAX_FAILED_PERCENT} % failed and >= ${MIN_ACHIEVED_SHARE * 100} % of the rate achieved; ${options.refine} refining steps; ${options.cooldownSeconds} s between steps`,
  );
  console.log(
    `  the machine is shared: each step waits for other processes to use < ${MAX_OTHER_CPU_SHARE * 100} % of the CPUs, and a failed step they disturbed is repeated (up to ${options.retries} times)`,
  );
  for (const s of scenarios)
    console.log(`  ${s.name}: ${s.uac} -> ${s.uas}, rates ${ladderFor(s, options).join(', ')}/s`);
  console.log(
    `  sipp: -t u1 -buff_size 4194304 -recv_timeout ${RECV_TIMEOUT_MS}; UAC on ${GENERATOR_IP}, proxies and UAS on ${SERVER_IP}`,
  );
  console.log(`  logs: ${relative(process.cwd(), workDir) || '.'}`);

  const results: ScenarioResult[] = [];
  const versions: Record<string, string> = {};

  for (const [index, proxy] of selected.entries()) {
    const ports = portPlan(options.basePort, proxies.indexOf(proxy));
    console.log(`\n== ${proxy.name}: ${proxy.description}`);
    const skip = (status: 'skipped' | 'failed', error: string): void => {
      console.log(`  !! ${status}: ${error}`);
      for (const s of scenarios)
        results.push({ proxy: proxy.name, scenario: s.name, status, error, steps: [], discarded: [] });
    };
    const reason = proxy.unavailable(repoRoot);
    if (reason) {
      skip('skipped', reason);
      continue;
    }
    const busy = [ports.proxy.port, ports.uas.sip.port, ports.uac.sip.port].filter(udpPortBound);
    if (busy.length > 0) {
      skip('failed', `UDP port(s) ${busy.join(', ')} already in use; choose another --base-port`);
      continue;
    }
    versions[proxy.name] = proxy.version(repoRoot);
    console.log(
      `  version: ${versions[proxy.name]}; listens ${ports.proxy.ip}:${ports.proxy.port}, upstream ${ports.uas.sip.ip}:${ports.uas.sip.port}`,
    );

    const proxyDir = join(workDir, proxy.name);
    mkdirSync(proxyDir, { recursive: true });
    // Bound the proxy's life (and its UAS's) by the longest this run could take with it: every
    // step repeated, waiting its longest for quiet and cooling down after a failure.
    const stepsAtMost =
      scenarios.reduce((n, s) => n + ladderFor(s, options).length + options.refine + 1, 0) * (options.retries + 1);
    const longestStep =
      QUIET_WAIT_SECONDS +
      uacBoundSeconds(options.stepSeconds * 1000, 1000) +
      Math.max(options.cooldownSeconds, RECV_TIMEOUT_MS / 1000 + 1) +
      5;
    const boundSeconds = stepsAtMost * longestStep + 60;
    let proxyChild: Child;
    try {
      proxyChild = await proxy.start({
        repoRoot,
        workDir: proxyDir,
        listen: ports.proxy,
        upstream: ports.uas.sip,
        generatorIp: GENERATOR_IP,
        boundSeconds,
      });
    } catch (err) {
      skip('failed', `did not start: ${(err as Error).message}`);
      const detail = tail(join(proxyDir, `${proxy.name}.log`), 10);
      if (detail !== '') console.log(detail.replace(/^/gm, '     '));
      continue;
    }
    try {
      for (const scenario of scenarios) {
        console.log(`\n  -- ${proxy.name}, ${scenario.name} (${UNITS[scenario.name].perSecond})`);
        try {
          results.push(
            await measureScenario(
              {
                repoRoot,
                proxy,
                proxyChild,
                scenario,
                ports,
                logDir: proxyDir,
                stepSeconds: options.stepSeconds,
                boundSeconds,
              },
              options,
            ),
          );
        } catch (err) {
          if (!(err instanceof ProxyDied)) throw err;
          console.log(`  !! ${err.message}`);
          console.log(tail(proxyChild.logFile, 10).replace(/^/gm, '     '));
          results.push({
            proxy: proxy.name,
            scenario: scenario.name,
            status: 'failed',
            error: err.message,
            steps: [],
            discarded: [],
          });
          break;
        }
      }
    } finally {
      await stopProcess(proxyChild);
    }
    if (index < selected.length - 1) await sleep(options.cooldownSeconds * 1000);
  }

  console.log(`\n== Summary\n${summaryText(results)}`);

  if (options.json) {
    const report = {
      date: new Date().toISOString(),
      command: commandLine(),
      host: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
      sipp,
      versions,
      options: {
        stepSeconds: options.stepSeconds,
        maxRate: options.maxRate,
        rates: options.rates,
        refine: options.refine,
        cooldownSeconds: options.cooldownSeconds,
        scenarios: options.scenarios,
        sipwardenArgs: options.sipwardenArgs,
        kamailioMemory: options.kamailioMemory,
      },
      criteria: { maxFailedPercent: MAX_FAILED_PERCENT, minAchievedShare: MIN_ACHIEVED_SHARE },
      results,
      ratios: ratios(results),
      logs: workDir,
    };
    writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`\nresults written to ${options.json}`);
  }
}

let stopping = false;
function onSignal(signal: NodeJS.Signals): void {
  if (stopping) {
    killAllNow();
    process.exit(130);
  }
  stopping = true;
  refuseNewProcesses();
  console.error(`\n${signal}: stopping sipp and the proxies...`);
  void stopAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
process.on('exit', killAllNow);

try {
  await main();
} catch (err) {
  // After SIGINT/SIGTERM, errors from the processes being stopped under the run are expected.
  if (!stopping) {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exitCode = 1;
  }
} finally {
  await stopAll();
}
