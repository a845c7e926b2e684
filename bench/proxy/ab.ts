/**
 * CPU per call of this checkout's sipwarden against another built checkout's (`--baseline`),
 * under the same fixed load, alternated so that the shared machine's drift falls on both:
 * `rounds` times each, a sipp UAS as the upstream and a sipp UAC offering `calls` calls at
 * `rate` per second through sipwarden (configured as for `run.ts`: every guard on, topology
 * hiding on, the flood density raised above the generator rate). The CPU of the sipwarden
 * process during the load is read from /proc; the medians and their ratio are printed.
 *
 *   npx tsc -p . && node dist/bench/proxy/ab.js --baseline DIR [--rate 2000] [--calls 10000] [--rounds 8]
 *
 * Finer than the ladder of run.ts, which steps the rate by thousands: this resolves a few
 * percent where run.ts cannot.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stopAll, stopProcess, treeCpu } from './processes.js';
import { allProxies, type ProxyUnderTest } from './proxies.js';
import { type SippPorts, startUac, startUas } from './sipp.js';

const USAGE = `usage: node dist/bench/proxy/ab.js --baseline DIR [options]
  --baseline DIR   a built checkout of another commit (npm ci && npx tsc -p . in it)
  --rate N         calls per second offered (default 2000)
  --calls N        calls per round (default 10000)
  --rounds N       rounds of each (default 8)
  --base-port P    first UDP port (default 27160)`;

const { values } = parseArgs({
  options: {
    baseline: { type: 'string' },
    rate: { type: 'string', default: '2000' },
    calls: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '8' },
    'base-port': { type: 'string', default: '27160' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help || values.baseline === undefined) {
  console.error(USAGE);
  process.exit(values.help ? 0 : 2);
}
const RATE = Number(values.rate);
const CALLS = Number(values.calls);
const ROUNDS = Number(values.rounds);
const BASE = Number(values['base-port']);
if (![RATE, CALLS, ROUNDS, BASE].every((n) => Number.isInteger(n) && n > 0)) {
  console.error(USAGE);
  process.exit(2);
}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const workDir = join(repoRoot, '.bench-tmp', 'ab', new Date().toISOString().replace(/[:.]/g, '-'));
mkdirSync(workDir, { recursive: true });

const proxies = allProxies({ sipwardenArgs: [], kamailioMemory: 'fm', baselineRoot: resolve(values.baseline) });
const pair = ['sipwarden', 'sipwarden-baseline'].map((n) => proxies.find((p) => p.name === n)!);
const uas: SippPorts = { sip: { ip: '127.0.0.1', port: BASE + 1 }, control: BASE + 3, media: BASE + 10 };
const uac: SippPorts = { sip: { ip: '127.0.0.2', port: BASE + 2 }, control: BASE + 4, media: BASE + 20 };
const listen = { ip: '127.0.0.1', port: BASE };
/** Upper bound of one round, seconds: the load, plus room for a slow proxy. */
const BOUND = Math.ceil(CALLS / RATE) * 3 + 30;

/** CPU seconds the proxy used while `calls` calls went through it. */
async function round(proxy: ProxyUnderTest, n: number): Promise<number> {
  const dir = join(workDir, `${proxy.name}-${n}`);
  mkdirSync(dir, { recursive: true });
  const child = await proxy.start({
    repoRoot,
    workDir: dir,
    listen,
    upstream: uas.sip,
    generatorIp: uac.sip.ip,
    boundSeconds: BOUND,
  });
  const server = await startUas(join(repoRoot, 'test/fixtures/sipp/uas-call.xml'), uas, dir, 'uas', BOUND);
  try {
    const before = treeCpu(child.pid).seconds;
    const load = startUac(
      join(repoRoot, 'test/fixtures/sipp/uac-call.xml'),
      uac,
      listen,
      RATE,
      CALLS,
      CALLS,
      dir,
      'uac',
      BOUND,
    );
    await load.child.exited;
    return treeCpu(child.pid).seconds - before;
  } finally {
    await stopProcess(server);
    await stopProcess(child);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const cpu: Record<string, number[]> = { sipwarden: [], 'sipwarden-baseline': [] };
try {
  console.log(`${CALLS} calls at ${RATE}/s, ${ROUNDS} rounds each, alternated; baseline ${values.baseline}`);
  for (let n = 0; n < ROUNDS; n++) {
    for (const proxy of pair) {
      const seconds = await round(proxy, n);
      cpu[proxy.name]!.push(seconds);
      console.log(`  ${proxy.name.padEnd(20)} round ${n + 1}: ${seconds.toFixed(2)} CPU s`);
    }
  }
} finally {
  await stopAll();
}
const now = median(cpu.sipwarden!);
const before = median(cpu['sipwarden-baseline']!);
console.log(`median CPU s: sipwarden ${now.toFixed(2)}, baseline ${before.toFixed(2)}`);
console.log(`calls per CPU-second: sipwarden ${Math.round(CALLS / now)}, baseline ${Math.round(CALLS / before)}`);
console.log(`CPU per call, sipwarden / baseline: x${(now / before).toFixed(3)}`);
