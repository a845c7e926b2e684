/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4), for tests: every
 * line must be a HELP, TYPE or comment line, or a sample of a family whose TYPE came before it;
 * names, label names, escapes and values must be well formed; a series appears once; a
 * histogram's buckets are cumulative and its `+Inf` bucket equals its `_count`. Anything else
 * throws, naming the line.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface PromSample {
  /** The sample's own name (`x_bucket`, `x_sum`, `x_count` for a histogram `x`). */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface PromFamily {
  readonly name: string;
  readonly type: MetricType;
  help: string;
  readonly samples: PromSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set<string>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SUFFIXES: Readonly<Record<MetricType, readonly string[]>> = {
  counter: [''],
  gauge: [''],
  untyped: [''],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

/** The families of `text`, by name, in order. Throws on anything not strictly well formed. */
export function parsePrometheusText(text: string): Map<string, PromFamily> {
  const families = new Map<string, PromFamily>();
  const seen = new Set<string>();
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((line, i) => {
    const fail = (why: string): never => {
      throw new Error(`line ${i + 1}: ${why}: ${JSON.stringify(line)}`);
    };
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (m === null) return; // an ordinary comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!METRIC_NAME.test(name)) fail('bad metric name');
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) fail('unknown type');
        if (families.has(name)) fail('second TYPE line');
        families.set(name, { name, type: rest as MetricType, help: '', samples: [] });
      } else {
        const family = families.get(name);
        // prom-client writes HELP before TYPE: keep it for the TYPE line that follows.
        if (family === undefined) {
          const next = lines[i + 1] ?? '';
          if (!next.startsWith(`# TYPE ${name} `)) fail('HELP without its TYPE');
        } else family.help = unescapeHelp(rest);
      }
      return;
    }
    const sample = parseSample(line, fail);
    const family = familyOf(families, sample.name) ?? fail('sample of no declared family');
    const key = `${sample.name}{${Object.entries(sample.labels)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(',')}}`;
    if (seen.has(key)) fail('series repeated');
    seen.add(key);
    family.samples.push(sample);
  });
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return families;
}

function familyOf(families: Map<string, PromFamily>, sampleName: string): PromFamily | undefined {
  for (const [name, family] of families) {
    for (const suffix of SUFFIXES[family.type]) if (sampleName === name + suffix) return family;
  }
  return undefined;
}

function parseSample(line: string, fail: (why: string) => never): PromSample {
  const nameEnd = line.search(/[{ ]/);
  if (nameEnd <= 0) fail('no sample name');
  const name = line.slice(0, nameEnd);
  if (!METRIC_NAME.test(name)) fail('bad sample name');
  const labels: Record<string, string> = {};
  let i = nameEnd;
  if (line[i] === '{') {
    i++;
    while (line[i] !== '}') {
      const eq = line.indexOf('=', i);
      if (eq === -1) fail('label without value');
      const label = line.slice(i, eq);
      if (!LABEL_NAME.test(label)) fail(`bad label name ${JSON.stringify(label)}`);
      if (label in labels) fail('label repeated');
      if (line[eq + 1] !== '"') fail('label value not quoted');
      let value = '';
      let j = eq + 2;
      for (;;) {
        const c = line[j];
        if (c === undefined) fail('label value not closed');
        if (c === '"') break;
        if (c === '\\') {
          const e = line[j + 1];
          if (e === '\\' || e === '"') value += e;
          else if (e === 'n') value += '\n';
          else fail('bad escape in label value');
          j += 2;
        } else {
          value += c;
          j++;
        }
      }
      labels[label] = value;
      i = j + 1;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') fail('expected , or } after a label');
    }
    i++;
  }
  const parts = line.slice(i).split(' ');
  if (parts[0] !== '' || parts.length < 2 || parts.length > 3)
    fail('expected one space, a value, and a timestamp at most');
  const value = parseValue(parts[1]!) ?? fail('bad value');
  if (parts[2] !== undefined && !/^-?\d+$/.test(parts[2])) fail('bad timestamp');
  return { name, labels, value };
}

function parseValue(text: string): number | undefined {
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return Number.NaN;
  return /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) ? Number(text) : undefined;
}

function unescapeHelp(text: string): string {
  return text.replace(/\\(\\|n)/g, (_, e: string) => (e === 'n' ? '\n' : '\\'));
}

/** Buckets cumulative (by `le`, within each series), `+Inf` present and equal to `_count`. */
function checkHistogram(family: PromFamily): void {
  const series = new Map<string, { buckets: [number, number][]; count?: number }>();
  for (const s of family.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const entry = series.get(key) ?? { buckets: [] };
    series.set(key, entry);
    if (s.name.endsWith('_bucket')) {
      const bound = le === undefined ? Number.NaN : (parseValue(le) ?? Number.NaN);
      if (Number.isNaN(bound)) throw new Error(`${family.name}: bucket without a valid le`);
      entry.buckets.push([bound, s.value]);
    } else if (s.name.endsWith('_count')) entry.count = s.value;
  }
  for (const [key, { buckets, count }] of series) {
    buckets.sort((a, b) => a[0] - b[0]);
    for (let k = 1; k < buckets.length; k++) {
      if (buckets[k]![1] < buckets[k - 1]![1]) throw new Error(`${family.name}${key}: buckets not cumulative`);
    }
    const inf = buckets.at(-1);
    if (inf === undefined || inf[0] !== Number.POSITIVE_INFINITY)
      throw new Error(`${family.name}${key}: no +Inf bucket`);
    if (inf[1] !== count) throw new Error(`${family.name}${key}: +Inf bucket ${inf[1]} but _count ${count}`);
  }
}

/** The value of the one sample named `name` whose labels include `labels`; undefined when none. */
export function sampleValue(
  families: Map<string, PromFamily>,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number | undefined {
  for (const family of families.values()) {
    for (const s of family.samples) {
      if (s.name !== name) continue;
      if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}

/** Every sample name the families declare (a histogram `x`: `x_bucket`, `x_sum`, `x_count`), with samples or not. */
export function declaredNames(families: Map<string, PromFamily>): Set<string> {
  const names = new Set<string>();
  for (const family of families.values()) for (const suffix of SUFFIXES[family.type]) names.add(family.name + suffix);
  return names;
}
