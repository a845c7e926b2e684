import { parseArgs } from 'node:util';

/**
 * The `--batch N --rounds N --help` options of the micro benchmarks: prints `usage` and exits
 * on --help (0) or a bad value (2).
 */
export function batchAndRounds(
  usage: string,
  defaults: { batch: number; rounds: number },
): {
  batch: number;
  rounds: number;
} {
  const { values } = parseArgs({
    options: {
      batch: { type: 'string', default: String(defaults.batch) },
      rounds: { type: 'string', default: String(defaults.rounds) },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const batch = Number(values.batch);
  const rounds = Number(values.rounds);
  if (!Number.isInteger(batch) || batch <= 0 || !Number.isInteger(rounds) || rounds <= 0) {
    console.error(usage);
    process.exit(2);
  }
  return { batch, rounds };
}
