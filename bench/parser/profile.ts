/**
 * Runs only sipwarden's parse + reads over the benchmark mix, for a profiler:
 *
 *   npx tsc -p . && node --cpu-prof dist/bench/parser/profile.js [--iterations N]
 *   perf record -g node --perf-basic-prof dist/bench/parser/profile.js
 *
 * It warms up, then times rounds of the same loop as run.ts (min and median per message),
 * so a change can be checked quickly without the other parsers.
 */
import { parseArgs } from 'node:util';
import { emptyReads } from './adapter.js';
import { checksum, measureThroughput } from './harness.js';
import { MESSAGE_MIX } from './messages.js';
import { sipwardenAdapter } from './sipwarden.js';

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '300000' },
    rounds: { type: 'string', default: '7' },
  },
});
const iterations = Number(values.iterations);
const rounds = Number(values.rounds);
const adapter = sipwardenAdapter();
const datagrams = MESSAGE_MIX.map((m) => m.raw);
for (const m of MESSAGE_MIX) adapter.read(adapter.parse(m.raw), emptyReads());

measureThroughput(adapter, datagrams, 100_000, 60);
const ns: number[] = [];
for (let r = 0; r < rounds; r++) {
  const { messages, seconds } = measureThroughput(adapter, datagrams, iterations, 60);
  ns.push((seconds * 1e9) / messages);
}
ns.sort((a, b) => a - b);
console.log(
  `sipwarden: ${ns[0]!.toFixed(0)} ns/msg min, ${ns[ns.length >> 1]!.toFixed(0)} median over ${rounds} rounds of ${iterations} (checksum ${checksum()})`,
);
