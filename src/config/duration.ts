/** Durations: `500ms`, `2s`, `5m`, `1h`, `1d`, `1.5s`, or a plain number of seconds. */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Longest duration accepted anywhere: Node timers fire at once beyond 2^31-1 ms (24.8 days). */
export const MAX_DURATION_MS = 24 * 86_400_000;

export const DURATION_HINT = 'e.g. 500ms, 2s, 5m, 1h, 1d, or a number of seconds';

/** Milliseconds (rounded to an integer), or undefined when `value` is not a duration. */
export function parseDuration(value: unknown): number | undefined {
  let ms: number;
  if (typeof value === 'number') {
    ms = value * 1000;
  } else if (typeof value === 'string') {
    const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
    if (!m) return undefined;
    ms = Number(m[1]) * UNIT_MS[m[2] ?? 's']!;
  } else {
    return undefined;
  }
  if (!Number.isFinite(ms) || ms < 0) return undefined;
  return Math.round(ms);
}

/** Shortest readable form of a duration in milliseconds, for messages and docs. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
