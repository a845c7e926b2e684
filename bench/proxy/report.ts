/**
 * Results of the proxy benchmark and their printing: one line per step while it runs, a
 * summary table and ratios at the end.
 */

import { table } from '../common/table.js';

export type ScenarioName = 'call' | 'options';

export interface StepResult {
  offeredRate: number;
  /** Calls (or transactions) sipp was told to make: offeredRate x step seconds. */
  offered: number;
  successful: number;
  /** Counted failed by sipp; calls never finished (sipp killed) are in failedPercent too. */
  failed: number;
  /** (offered - successful) / offered. */
  failedPercent: number;
  /** From sipp's start to its exit (the last calls' retransmissions and timeouts included). */
  elapsedSeconds: number;
  /** From sipp's start until it had created every call (to 200 ms), or elapsedSeconds. */
  generationSeconds: number;
  /** successful / generationSeconds: the rate of good calls the proxy carried while offered. */
  achievedRate: number;
  /** Mean INVITE (or OPTIONS) to 200 time, ms, as sipp measures it (1 ms resolution). */
  responseTimeMs: number;
  proxyCpuSeconds: number;
  proxyProcesses: number;
  /** successful / proxyCpuSeconds. */
  perProxyCpuSecond: number;
  uacCpuSeconds: number;
  uasCpuSeconds: number;
  retransmissions: number;
  /** UDP datagrams dropped host-wide for a full socket buffer (/proc/net/snmp RcvbufErrors). */
  udpDrops: number;
  /** CPU seconds used meanwhile by processes outside the benchmark (other users of the box). */
  otherCpuSeconds: number;
  /** Other processes used more than a small share of the machine meanwhile. */
  disturbed: boolean;
  sustained: boolean;
  /** Why the step is not sustained; empty when it is. */
  verdict: string;
  statsFile: string;
  /** sipp's error log of the UAC (exists only when something went wrong). */
  errorsFile: string;
}

export interface ScenarioResult {
  proxy: string;
  scenario: ScenarioName;
  status: 'measured' | 'skipped' | 'failed';
  /** Why it was skipped or failed. */
  error?: string;
  steps: StepResult[];
  /** Failed steps run again because other processes disturbed them; not used for the result. */
  discarded: StepResult[];
  /** The sustained step with the highest offered rate. */
  best?: StepResult;
  /** True when even the highest rate tried was sustained: the limit is above it. */
  limitNotReached?: boolean;
}

export const UNITS: Record<ScenarioName, { singular: string; plural: string; perSecond: string }> = {
  call: { singular: 'call', plural: 'calls', perSecond: 'calls/s' },
  options: { singular: 'transaction', plural: 'transactions', perSecond: 'transactions/s' },
};

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const fmt = (n: number): string => (Number.isFinite(n) ? integer.format(n) : '-');

export const STEP_HEADER = [
  'offered/s',
  'achieved/s',
  'failed %',
  'rtd ms',
  'proxy CPU s',
  'per proxy CPU-s',
  'uac CPU s',
  'uas CPU s',
  'retrans',
  'udp drops',
  'other CPU s',
  'verdict',
];

/** One step as a fixed-width line matching STEP_HEADER (printed as the step finishes). */
export function stepLine(step: StepResult): string {
  const cells = [
    fmt(step.offeredRate),
    fmt(step.achievedRate),
    step.failedPercent.toFixed(2),
    step.responseTimeMs.toFixed(1),
    step.proxyCpuSeconds.toFixed(2),
    fmt(step.perProxyCpuSecond),
    step.uacCpuSeconds.toFixed(2),
    step.uasCpuSeconds.toFixed(2),
    fmt(step.retransmissions),
    fmt(step.udpDrops),
    step.otherCpuSeconds.toFixed(2),
    step.sustained ? 'sustained' : step.verdict,
  ];
  return `  ${cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padStart(STEP_HEADER[i]!.length))).join('  ')}`;
}

export function stepHeaderLine(): string {
  return `  ${STEP_HEADER.join('  ')}`;
}

/** The highest rate every measured proxy sustained in a scenario, if any. */
export function commonRate(results: readonly ScenarioResult[]): number | undefined {
  const measured = results.filter((r) => r.status === 'measured' && r.best);
  if (measured.length < 2) return undefined;
  const sets = measured.map((r) => new Set(r.steps.filter((s) => s.sustained).map((s) => s.offeredRate)));
  const shared = [...sets[0]!].filter((rate) => sets.every((set) => set.has(rate)));
  return shared.length > 0 ? Math.max(...shared) : undefined;
}

function atRate(result: ScenarioResult, rate: number | undefined): StepResult | undefined {
  if (rate === undefined) return undefined;
  return result.steps.find((s) => s.sustained && s.offeredRate === rate);
}

/** The pairs whose ratios the summary prints: subject / baseline. */
export const RATIO_PAIRS: ReadonlyArray<readonly [string, string]> = [
  ['sipwarden', 'sipwarden-baseline'],
  ['sipwarden', 'kamailio-plain'],
  ['sipwarden', 'kamailio-protected'],
  ['kamailio-protected', 'kamailio-plain'],
];

export interface Ratio {
  scenario: ScenarioName;
  subject: string;
  baseline: string;
  /** subject's highest sustained rate / baseline's. */
  rate?: number;
  /** subject's CPU per call / baseline's, each at its own highest sustained rate (> 1: subject costs more). */
  cpuPerCall?: number;
  /** The same at the highest rate both sustained (same load for both). */
  cpuPerCallAtCommonRate?: number;
  commonRate?: number;
  missing?: string;
}

export function ratios(results: readonly ScenarioResult[]): Ratio[] {
  const out: Ratio[] = [];
  const scenarios = [...new Set(results.map((r) => r.scenario))];
  for (const scenario of scenarios) {
    const inScenario = results.filter((r) => r.scenario === scenario);
    for (const [subjectName, baselineName] of RATIO_PAIRS) {
      const subject = inScenario.find((r) => r.proxy === subjectName);
      const baseline = inScenario.find((r) => r.proxy === baselineName);
      if (!subject || !baseline) continue;
      const ratio: Ratio = { scenario, subject: subjectName, baseline: baselineName };
      if (!subject.best || !baseline.best) {
        ratio.missing = `${!subject.best ? subjectName : baselineName} has no sustained rate`;
        out.push(ratio);
        continue;
      }
      ratio.rate = subject.best.offeredRate / baseline.best.offeredRate;
      ratio.cpuPerCall = baseline.best.perProxyCpuSecond / subject.best.perProxyCpuSecond;
      const common = commonRate([subject, baseline]);
      const s = atRate(subject, common);
      const b = atRate(baseline, common);
      if (common !== undefined && s && b) {
        ratio.commonRate = common;
        ratio.cpuPerCallAtCommonRate = b.perProxyCpuSecond / s.perProxyCpuSecond;
      }
      out.push(ratio);
    }
  }
  return out;
}

export function summaryText(results: readonly ScenarioResult[]): string {
  const parts: string[] = [];
  const scenarios = [...new Set(results.map((r) => r.scenario))];
  for (const scenario of scenarios) {
    const unit = UNITS[scenario];
    const inScenario = results.filter((r) => r.scenario === scenario);
    const common = commonRate(inScenario);
    const header = [
      'proxy',
      `highest sustained ${unit.perSecond}`,
      `${unit.plural} per proxy CPU-s there`,
      'proxy CPU s/s there',
      common !== undefined ? `${unit.plural} per CPU-s at ${fmt(common)}/s` : 'at a common rate',
      'note',
    ];
    const rows = inScenario.map((r) => {
      if (r.status !== 'measured' || !r.best) {
        return [r.proxy, '-', '-', '-', '-', r.error ?? 'no step sustained'];
      }
      const shared = atRate(r, common);
      return [
        r.proxy,
        `${r.limitNotReached ? '>= ' : ''}${fmt(r.best.offeredRate)}`,
        fmt(r.best.perProxyCpuSecond),
        (r.best.proxyCpuSeconds / r.best.generationSeconds).toFixed(2),
        shared ? fmt(shared.perProxyCpuSecond) : '-',
        r.limitNotReached ? 'highest rate tried; raise --max-rate' : '',
      ];
    });
    parts.push(`${scenario} (${unit.perSecond})\n${table(header, rows, new Set([1, 2, 3, 4]))}`);
  }
  const lines = ratios(results).map((r) => {
    const name = `${r.scenario}: ${r.subject} / ${r.baseline}`;
    if (r.missing) return `  ${name}: n/a (${r.missing})`;
    const atCommon =
      r.cpuPerCallAtCommonRate !== undefined
        ? `, CPU per ${UNITS[r.scenario].singular} at ${fmt(r.commonRate!)}/s x${r.cpuPerCallAtCommonRate.toFixed(2)}`
        : '';
    return `  ${name}: rate x${r.rate!.toFixed(2)}, CPU per ${UNITS[r.scenario].singular} x${r.cpuPerCall!.toFixed(2)} (each at its highest sustained rate)${atCommon}`;
  });
  const missingSipwarden = !results.some((r) => r.proxy === 'sipwarden' && r.status === 'measured');
  if (missingSipwarden) lines.unshift('  sipwarden / kamailio-*: n/a (sipwarden not measured in this run)');
  parts.push(
    `ratios (rate > 1: subject sustains more; CPU per call or transaction > 1: subject spends more CPU on each)\n${lines.join('\n')}`,
  );
  return parts.join('\n\n');
}
