/**
 * Loads the configuration: YAML (with line numbers) -> environment substitution -> command-line
 * overrides -> schema (zod) -> cross-field checks -> normalised, frozen `Config`.
 *
 * Every problem becomes a `ConfigIssue` naming the file, the line and the field path (or the
 * command-line flag); all issues of one stage are reported together. Nothing but `ConfigError`
 * escapes for bad input.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { type Document, isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, Scalar } from 'yaml';
import type * as z from 'zod';
import { describe } from '../net/ip.js';
import { compileHygiene } from '../topology/hygiene.js';
import type { Endpoint, HostPort } from './endpoint.js';
import { type Env, type EnvUse, redactEnv, retypePlain, substituteEnv } from './env.js';
import { ConfigError, type ConfigIssue } from './errors.js';
import { allowedKeysAt, configSchema, DEFAULTS, describeValue, type RawConfig } from './schema.js';
import type {
  AuthConfig,
  CliOverrides,
  Config,
  GuardsConfig,
  ListenConfig,
  PingConfig,
  TopologyConfig,
  UpstreamConfig,
} from './types.js';

export interface LoadOptions {
  /** Environment for `${VAR}` substitution. Default: `process.env`. */
  env?: Env;
  /** Directory that relative paths in the file are resolved against. Default: the file's directory. */
  baseDir?: string;
  /** Directory for relative command-line paths and the default `data_dir`. Default: `process.cwd()`. */
  cwd?: string;
}

/** Largest config file read (a config file is a few kilobytes; this only bounds mistakes). */
const MAX_FILE_BYTES = 1 << 20;

/**
 * Loads `file` (when given) and applies `overrides`. With no file the overrides alone must make a
 * valid configuration (`--listen` and `--upstream`). Throws only `ConfigError` for bad input.
 */
export function loadConfig(options: { file?: string; overrides?: CliOverrides } & LoadOptions = {}): Config {
  const { file, overrides = {}, ...rest } = options;
  if (file === undefined) return guarded(() => build(undefined, undefined, overrides, rest));
  let text: string;
  try {
    if (statSync(file).size > MAX_FILE_BYTES) throw Object.assign(new Error('too large'), { code: 'EFBIG' });
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([fileIssue(file, `cannot read the file: ${ioReason(err)}`)], { cause: err });
  }
  return guarded(() => build(text, file, overrides, { baseDir: dirname(resolve(file)), ...rest }));
}

/** Like `loadConfig`, from text; `fileName` names the source in messages and anchors relative paths. */
export function loadConfigFromString(
  text: string,
  fileName: string,
  overrides: CliOverrides = {},
  options: LoadOptions = {},
): Config {
  return guarded(() => build(text, fileName, overrides, options));
}

function guarded(fn: () => Config): Config {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const message = `internal error while loading the configuration: ${(err as Error)?.message ?? String(err)}`;
    throw new ConfigError([{ file: undefined, line: undefined, path: '', flag: undefined, message }], { cause: err });
  }
}

function fileIssue(file: string, message: string): ConfigIssue {
  return { file, line: undefined, path: '', flag: undefined, message };
}

function ioReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'EFBIG':
      return `larger than ${MAX_FILE_BYTES} bytes`;
    default:
      return code ?? (err as Error)?.message ?? String(err);
  }
}

type Path = readonly PropertyKey[];

export function formatPath(path: Path): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

/** Finds file lines for field paths, and which command-line flag a path came from. */
class Locator {
  readonly issues: ConfigIssue[] = [];
  /** What `${VAR}` substitution took from the environment, by field: never shown in a message. */
  readonly envUses = new Map<string, EnvUse[]>();

  constructor(
    readonly file: string | undefined,
    private readonly doc: Document.Parsed | undefined,
    private readonly lines: LineCounter,
    /** Sections replaced by command-line flags. */
    readonly cli: { listen: boolean; upstream: boolean; logLevel: boolean },
  ) {}

  flagFor(path: Path): string | undefined {
    const [a, , c] = path;
    if (a === 'listen' && this.cli.listen) return c === 'cert' ? '--tls-cert' : c === 'key' ? '--tls-key' : '--listen';
    if ((a === 'upstreams' || a === 'default_upstream') && this.cli.upstream) return '--upstream';
    if (a === 'log' && path[1] === 'level' && this.cli.logLevel) return '--log-level';
    return undefined;
  }

  lineOf(offset: number): number {
    return this.lines.linePos(offset).line;
  }

  /** Line of the value at `path` (or of its key with `atKey`); the nearest existing ancestor otherwise. */
  lineFor(path: Path, atKey = false): number | undefined {
    if (!this.doc) return undefined;
    let node: unknown = this.doc.contents;
    let keyNode: Node | undefined;
    let complete = true;
    for (const seg of path) {
      if (isAlias(node)) node = node.resolve(this.doc);
      if (isMap(node) && typeof seg === 'string') {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === seg);
        if (!pair) {
          complete = false;
          break;
        }
        keyNode = pair.key as Node;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number' && node.items[seg] !== undefined) {
        keyNode = undefined;
        node = node.items[seg];
      } else {
        complete = false;
        break;
      }
    }
    if (!complete && node === this.doc.contents) return undefined; // a missing top-level key
    const valueNode = node as Node | null | undefined;
    const emptyValue = !valueNode || (isScalar(valueNode) && valueNode.value === null);
    const target = (atKey && complete) || emptyValue ? (keyNode ?? valueNode) : valueNode;
    const offset = target?.range?.[0];
    return offset === undefined ? undefined : this.lineOf(offset);
  }

  add(path: Path, message: string, atKey = false): void {
    const flag = this.flagFor(path);
    this.issues.push({
      file: flag ? undefined : this.file,
      line: flag ? undefined : this.lineFor(path, atKey),
      path: formatPath(path),
      flag,
      message,
    });
  }

  /**
   * Throws the collected issues, if any: sorted by line, command-line issues first. A value
   * from the environment is shown as its `${NAME}`, never as itself.
   */
  throwIfAny(): void {
    if (this.issues.length === 0) return;
    const sorted = this.issues
      .map((issue, i) => ({ issue, i }))
      .sort((a, b) => (a.issue.line ?? 0) - (b.issue.line ?? 0) || a.i - b.i)
      .map((x) => ({ ...x.issue, message: this.redact(x.issue) }));
    throw new ConfigError(sorted);
  }

  /** The issue's message with every value from the environment shown as its `${NAME}`. */
  private redact(issue: ConfigIssue): string {
    if (this.envUses.size === 0) return issue.message;
    const own: EnvUse[] = [];
    const all: EnvUse[] = [];
    for (const [path, uses] of this.envUses) {
      all.push(...uses);
      if (related(path, issue.path)) own.push(...uses);
    }
    return redactEnv(redactEnv(issue.message, own, true), all);
  }
}

/** True when one field path is the other or lies within it (`a.b` and `a.b[0].c`). */
function related(a: string, b: string): boolean {
  const [short, long] = a.length <= b.length ? [a, b] : [b, a];
  if (!long.startsWith(short)) return false;
  const next = long.charAt(short.length);
  return short === '' || next === '' || next === '.' || next === '[';
}

function build(
  text: string | undefined,
  file: string | undefined,
  overrides: CliOverrides,
  options: LoadOptions,
): Config {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const baseDir = options.baseDir ?? (file ? dirname(resolve(cwd, file)) : cwd);
  const lines = new LineCounter();
  const cli = {
    listen: (overrides.listen?.length ?? 0) > 0,
    upstream: (overrides.upstream?.length ?? 0) > 0,
    logLevel: overrides.logLevel !== undefined,
  };

  // 1. YAML, with every syntax error and warning located.
  let doc: Document.Parsed | undefined;
  if (text !== undefined) {
    doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, strict: true });
  }
  const loc = new Locator(file, doc, lines, cli);
  if (doc) {
    // The first syntax error only: the ones after it are mostly its consequences.
    const err = doc.errors[0] ?? doc.warnings[0];
    if (err) {
      const line = loc.lineOf(err.pos[0]);
      const lineText = text!.split(/\r?\n/)[line - 1] ?? '';
      const message =
        err.code === 'MULTIPLE_DOCS'
          ? 'YAML: a config file holds one document (remove the second "---")'
          : yamlMessage(err.message, lineText);
      loc.issues.push({ file, line, path: '', flag: undefined, message });
    }
    loc.throwIfAny();
    // 2. ${VAR} substitution in string values.
    substituteNode(doc.contents, [], env, loc);
    loc.throwIfAny();
  }

  // 3. Plain data, then the command-line flags replace what they name.
  let raw: unknown = {};
  if (doc) {
    try {
      raw = dropNulls(doc.toJS({ maxAliasCount: 100 })) ?? {};
    } catch (err) {
      throw new ConfigError([fileIssue(file ?? '', `YAML: ${(err as Error).message}`)], { cause: err });
    }
  }
  applyOverrides(raw, overrides, cwd, loc);
  reportMoved(raw, loc);

  // 4. Schema.
  const parsed = configSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) convertIssue(issue, [], loc, file === undefined);
    loc.throwIfAny();
  }
  const data = parsed.data!;

  // 5. Cross-field checks and normalisation.
  const config = normalise(data, loc, baseDir, cwd);
  loc.throwIfAny();
  return deepFreeze(config);
}

function yamlMessage(message: string, lineText: string): string {
  let hint = '';
  // '[', ']', '{', '}' and ',' are structure inside [...] and {...}: the usual culprits.
  if (/:\/\/\[/.test(lineText)) hint = ' (inside [...] or {...}, quote IPv6 URLs: "udp://[2001:db8::1]:5060")';
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the text is about ${...} in YAML
  else if (lineText.includes('${')) hint = ' (inside [...] or {...}, quote values with ${...}: "${VAR}")';
  return `YAML syntax: ${message.replace(/\s+/g, ' ').trim()}${hint}`;
}

/**
 * Fields whose text sipwarden sends on the wire as it is written (reason phrases, banners,
 * realms): they take no `${VAR}`, so that no configuration can put a value from the
 * environment in front of the outside. `*` stands for any key or index.
 */
const NO_SUBSTITUTION: readonly (readonly string[])[] = [
  ['guards', 'reply', 'reason'],
  ['guards', 'auth', 'realm'],
  ['guards', 'auth', 'realms'],
  ['honeypot', 'server'],
  ['honeypot', 'realm'],
  ['topology', '*', 'server'],
  ['topology', '*', 'user_agent'],
];

function onTheWire(path: readonly PropertyKey[]): boolean {
  return NO_SUBSTITUTION.some((p) => path.length >= p.length && p.every((seg, i) => seg === '*' || seg === path[i]));
}

function substituteNode(node: unknown, path: PropertyKey[], env: Env, loc: Locator): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isScalar(pair.key)) {
        const range = (pair.key as Node | null)?.range;
        loc.issues.push({
          file: loc.file,
          line: range ? loc.lineOf(range[0]) : undefined,
          path: formatPath(path),
          flag: undefined,
          message: 'keys must be plain names, not lists, mappings or aliases',
        });
        continue;
      }
      const key = String(pair.key.value);
      substituteNode(pair.value, [...path, key], env, loc);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      substituteNode(item, [...path, i], env, loc);
    });
  } else if (isScalar(node) && typeof node.value === 'string') {
    const refuse = onTheWire(path) ? 'its text goes out on the wire as written' : undefined;
    const result = substituteEnv(node.value, env, refuse);
    if (!result.ok) {
      loc.issues.push({
        file: loc.file,
        line: node.range ? loc.lineOf(node.range[0]) : undefined,
        path: formatPath(path),
        flag: undefined,
        message: result.message,
      });
    } else if (result.changed) {
      if (result.used.length > 0) loc.envUses.set(formatPath(path), result.used);
      node.value = node.type === Scalar.PLAIN && !node.tag ? retypePlain(result.value) : result.value;
    }
  }
}

/** `key:` with no value means "not set": the default applies (or "required" is reported). */
function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v !== null)
        Object.defineProperty(out, k, { value: dropNulls(v), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function applyOverrides(raw: unknown, o: CliOverrides, cwd: string, loc: Locator): void {
  if (!isPlainObject(raw)) return; // the schema reports a non-mapping document
  const abs = (p: string | undefined) => (p === undefined || p === '' ? undefined : resolve(cwd, p));
  if (loc.cli.listen) {
    raw.listen = o.listen!.map((url) => {
      if (typeof url !== 'string' || !/^tls:\/\//i.test(url)) return url;
      const entry: Record<string, unknown> = { url };
      if (abs(o.tlsCert)) entry.cert = abs(o.tlsCert);
      if (abs(o.tlsKey)) entry.key = abs(o.tlsKey);
      return entry;
    });
  }
  const tlsListen = loc.cli.listen && o.listen!.some((url) => typeof url === 'string' && /^tls:\/\//i.test(url));
  for (const [flag, value] of [
    ['--tls-cert', o.tlsCert],
    ['--tls-key', o.tlsKey],
  ] as const) {
    if (value !== undefined && !tlsListen) {
      loc.issues.push({
        file: undefined,
        line: undefined,
        path: '',
        flag,
        message: 'applies to tls:// addresses given by --listen, and there is none',
      });
    }
  }
  if (loc.cli.upstream) {
    raw.upstreams = [{ name: 'default', targets: o.upstream }];
    raw.default_upstream = 'default';
  }
  if (loc.cli.logLevel) raw.log = { ...(isPlainObject(raw.log) ? raw.log : {}), level: o.logLevel };
}

/** Settings that moved: their old place and the new one, which the error names. */
const MOVED: readonly { readonly from: readonly string[]; readonly to: readonly string[] }[] = [
  { from: ['guards', 'flood', 'ipv4_prefix'], to: ['sources', 'ipv4_prefix'] },
  { from: ['guards', 'flood', 'ipv6_prefix'], to: ['sources', 'ipv6_prefix'] },
];

/** Reports (at its line) and removes every setting written at its old place. */
function reportMoved(raw: unknown, loc: Locator): void {
  for (const m of MOVED) {
    let parent: unknown = raw;
    for (const seg of m.from.slice(0, -1)) parent = isPlainObject(parent) ? parent[seg] : undefined;
    const key = m.from[m.from.length - 1]!;
    if (!isPlainObject(parent) || !Object.hasOwn(parent, key)) continue;
    const value = describeValue(parent[key]);
    delete parent[key];
    const [section, name] = m.to;
    loc.add(
      m.from,
      `moved to ${m.to.join('.')}, one setting for every guard, ban and per-source limit: write "${section}: { ${name}: ${value} }"`,
      true,
    );
  }
}

// ---- zod issues -> ConfigIssues ----

const TYPE_NAMES: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  boolean: 'true or false',
};

function isTypeMismatch(issue: z.core.$ZodIssue): boolean {
  return issue.path.length === 0 && (issue.code === 'invalid_type' || issue.code === 'invalid_value');
}

function expectedText(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type') return TYPE_NAMES[issue.expected] ?? issue.expected;
  if (issue.code === 'invalid_value') return issue.values.map((v) => JSON.stringify(v)).join(' or ');
  return 'something else';
}

function convertIssue(issue: z.core.$ZodIssue, prefix: Path, loc: Locator, noFile: boolean): void {
  const path = [...prefix, ...issue.path];
  switch (issue.code) {
    case 'unrecognized_keys':
      for (const key of issue.keys) loc.add([...path, key], unknownKeyMessage(key, allowedKeysAt(path)), true);
      return;
    case 'invalid_union': {
      const real = issue.errors.filter((branch) => !(branch.length === 1 && isTypeMismatch(branch[0]!)));
      if (real.length > 0) {
        for (const sub of real[0]!) convertIssue(sub, path, loc, noFile);
        return;
      }
      const expected = [...new Set(issue.errors.map((b) => expectedText(b[0]!)))];
      loc.add(path, `expected ${expected.join(' or ')}, got ${describeValue(issue.input)}`);
      return;
    }
    case 'invalid_type':
      if (issue.input === undefined) {
        loc.add(path, requiredMessage(path, noFile));
      } else {
        const what = path.length === 0 ? 'a mapping of settings at the top level' : expectedText(issue);
        // Never echo what was written as the secret, even when it has the wrong type.
        const got = path[0] === 'secret' ? typeof issue.input : describeValue(issue.input);
        loc.add(path, `expected ${what}, got ${got}`);
      }
      return;
    case 'invalid_value':
      loc.add(path, `${issue.message}, got ${describeValue(issue.input)}`);
      return;
    default:
      loc.add(path, issue.message === 'required' ? requiredMessage(path, noFile) : issue.message);
  }
}

function requiredMessage(path: Path, noFile: boolean): string {
  if (path.length === 1 && path[0] === 'listen')
    return noFile ? 'required: give --listen or a config file' : 'required (or give --listen)';
  if (path.length === 1 && path[0] === 'upstreams') {
    return noFile ? 'required: give --upstream or a config file' : 'required (or give --upstream)';
  }
  return 'required';
}

function unknownKeyMessage(key: string, allowed: string[]): string {
  const guess = closest(key, allowed);
  if (guess) return `unknown key; did you mean "${guess}"?`;
  return allowed.length > 0 ? `unknown key (known here: ${allowed.join(', ')})` : 'unknown key';
}

function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  const w = word.toLowerCase().replace(/-/g, '_');
  for (const c of candidates) {
    if (c === w) return c; // differs only in case or '-' vs '_'
    if (c.length >= 3 && (w.startsWith(c) || c.startsWith(w)) && w.length >= 3) return c; // keyfile -> key
    const d = levenshtein(w, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(best.length / 3)) ? best : undefined;
}

function levenshtein(a: string, b: string): number {
  if (a.length > 64 || b.length > 64) return Number.POSITIVE_INFINITY;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

// ---- cross-field checks and the camelCase result ----

function normalise(data: RawConfig, loc: Locator, baseDir: string, cwd: string): Config {
  const listen: ListenConfig[] = [];
  const bound = new Map<string, { index: number; url: string }>();
  data.listen.forEach((entry, i) => {
    const at = (...rest: PropertyKey[]) => ['listen', i, ...rest];
    const fromCli = loc.cli.listen;
    const obj = 'transport' in entry ? { url: entry, cert: undefined, key: undefined, advertise: undefined } : entry;
    const ep: Endpoint = obj.url;
    const fileAt = (p: string | undefined, field: 'cert' | 'key'): string | undefined => {
      if (p === undefined) return undefined;
      const full = isAbsolute(p) ? p : resolve(fromCli ? cwd : baseDir, p);
      const problem = unreadable(full);
      if (problem) loc.add(at(field), `cannot read ${describe(full)}: ${problem}`);
      return full;
    };
    let cert: string | undefined;
    let key: string | undefined;
    if (ep.transport === 'tls') {
      if ('transport' in entry) {
        loc.add(at(), `${ep.url} needs a certificate and key: write { url: ${ep.url}, cert: FILE, key: FILE }`);
      } else {
        if (obj.cert === undefined) loc.add(at('cert'), `required for ${ep.url}`);
        if (obj.key === undefined) loc.add(at('key'), `required for ${ep.url}`);
      }
      cert = fileAt(obj.cert, 'cert');
      key = fileAt(obj.key, 'key');
    } else {
      if (obj.cert !== undefined) loc.add(at('cert'), 'only used with tls:// addresses', true);
      if (obj.key !== undefined) loc.add(at('key'), 'only used with tls:// addresses', true);
    }
    let advertise: HostPort | undefined = obj.advertise;
    if (advertise && advertise.port === 0) {
      const hostport = advertise.family === 6 ? `[${advertise.host}]:${ep.port}` : `${advertise.host}:${ep.port}`;
      advertise = { ...advertise, port: ep.port, hostport };
    }
    if (ep.port !== 0) {
      // tcp:// and tls:// on the same address and port would both bind one TCP port.
      const socketKey = `${ep.transport === 'udp' ? 'udp' : 'tcp'} ${ep.host} ${ep.port}`;
      const first = bound.get(socketKey);
      if (first) {
        const line = loc.lineFor(['listen', first.index]);
        const where = line !== undefined && !fromCli ? ` (line ${line})` : '';
        loc.add(
          at(),
          first.url === ep.url
            ? `${ep.url} is listed twice${where}`
            : `${ep.url} and ${first.url}${where} would both use TCP port ${ep.port} on ${ep.host}`,
        );
      } else {
        bound.set(socketKey, { index: i, url: ep.url });
      }
    }
    listen.push({ ...ep, cert, key, advertise });
  });

  const names = new Map<string, number>();
  const upstreams: UpstreamConfig[] = data.upstreams.map((u, i) => {
    const first = names.get(u.name);
    if (first !== undefined) {
      const line = loc.lineFor(['upstreams', first, 'name']);
      loc.add(['upstreams', i, 'name'], `duplicate upstream name "${u.name}"${line ? ` (first at line ${line})` : ''}`);
    } else {
      names.set(u.name, i);
    }
    const seen = new Set<string>();
    u.targets.forEach((t, j) => {
      if (seen.has(t.url)) loc.add(['upstreams', i, 'targets', j], `${t.url} is listed twice`);
      seen.add(t.url);
    });
    let ping: PingConfig | false = false;
    if (u.ping === true) ping = { ...DEFAULTS.ping };
    else if (u.ping !== false) {
      ping = { interval: u.ping.interval, timeout: u.ping.timeout, failures: u.ping.failures };
      if (ping.timeout > ping.interval) {
        loc.add(['upstreams', i, 'ping', 'timeout'], `must not be longer than interval (${u.ping.interval} ms)`);
      }
    }
    let ca: string | undefined;
    if (u.tls.ca !== undefined) {
      ca = isAbsolute(u.tls.ca) ? u.tls.ca : resolve(baseDir, u.tls.ca);
      const problem = unreadable(ca);
      if (problem) loc.add(['upstreams', i, 'tls', 'ca'], `cannot read ${describe(ca)}: ${problem}`);
    }
    const tls = { verify: u.tls.verify, ca, serverName: u.tls.server_name };
    return { name: u.name, targets: u.targets, ping, tls };
  });

  const defaultUpstream = data.default_upstream ?? data.upstreams[0]!.name;
  if (!names.has(defaultUpstream)) {
    loc.add(
      ['default_upstream'],
      `no upstream is named ${describe(defaultUpstream)} (upstreams: ${[...names.keys()].map(describe).join(', ')})`,
    );
  }

  const trusted = [...new Set(data.trusted)];

  if (data.limits.max_header_bytes > data.limits.max_message_bytes) {
    loc.add(
      ['limits', 'max_header_bytes'],
      `must not be larger than max_message_bytes (${data.limits.max_message_bytes})`,
    );
  }
  if (data.tcp.max_connections_per_ip > data.tcp.max_connections) {
    loc.add(['tcp', 'max_connections_per_ip'], `must not be larger than max_connections (${data.tcp.max_connections})`);
  }
  if (data.tcp.upstream_reserve !== undefined && data.tcp.upstream_reserve >= data.tcp.max_connections) {
    loc.add(['tcp', 'upstream_reserve'], `must be smaller than max_connections (${data.tcp.max_connections})`);
  }
  if (data.tcp.max_pending_output < data.limits.max_message_bytes) {
    loc.add(
      ['tcp', 'max_pending_output'],
      `must not be smaller than limits.max_message_bytes (${data.limits.max_message_bytes})`,
    );
  }

  checkAuth(data, loc);
  // Header names hygiene may not remove (the message needs them) are reported with their line.
  for (const dir of ['out', 'in'] as const) {
    data.topology[dir].remove.forEach((name, i) => {
      try {
        compileHygiene({
          server: 'keep',
          userAgent: 'keep',
          remove: [name],
          stripAssertedIdentityFromUntrusted: false,
          internalHosts: [],
        });
      } catch (err) {
        loc.add(['topology', dir, 'remove', i], (err as Error).message.replace(/^hygiene: /, ''));
      }
    });
  }

  const dataDir = data.data_dir === undefined ? resolve(cwd, DEFAULTS.data_dir) : resolve(baseDir, data.data_dir);
  return {
    listen,
    upstreams,
    defaultUpstream,
    trusted,
    sources: { ipv4Prefix: data.sources.ipv4_prefix, ipv6Prefix: data.sources.ipv6_prefix },
    limits: {
      maxMessageBytes: data.limits.max_message_bytes,
      maxHeaders: data.limits.max_headers,
      maxHeaderBytes: data.limits.max_header_bytes,
      maxListEntries: data.limits.max_list_entries,
    },
    tcp: {
      idleTimeout: data.tcp.idle_timeout,
      connectTimeout: data.tcp.connect_timeout,
      maxConnections: data.tcp.max_connections,
      maxConnectionsPerIp: data.tcp.max_connections_per_ip,
      upstreamReserve:
        data.tcp.upstream_reserve ?? Math.min(DEFAULTS.tcp.upstream_reserve, Math.floor(data.tcp.max_connections / 4)),
      tlsHandshakeTimeout: data.tcp.tls_handshake_timeout,
      maxPendingOutput: data.tcp.max_pending_output,
      pongsPerSecond: data.tcp.pongs_per_second,
    },
    replies: { badRequestPerSecond: data.replies.bad_request_per_second },
    secret: data.secret === '' ? undefined : data.secret,
    dataDir,
    log: { level: data.log.level, file: data.log.file === undefined ? undefined : resolve(baseDir, data.log.file) },
    guards: normaliseGuards(data.guards, baseDir),
    honeypot: {
      enabled: data.honeypot.enabled,
      server: data.honeypot.server.toLowerCase() === 'none' ? undefined : data.honeypot.server,
      realm: data.honeypot.realm,
      callDuration: data.honeypot.call_duration,
      amplificationFactor: data.honeypot.amplification_factor,
      repliesPerSecond: data.honeypot.replies_per_second,
      maxRecords: data.honeypot.max_records,
      forward: data.honeypot.forward,
    },
    store: { type: data.store.type, path: resolve(dataDir, data.store.file ?? DEFAULTS.store.file) },
    firewall: {
      sync: data.firewall.sync,
      backend: data.firewall.backend,
      table: data.firewall.table,
      openTcpPorts: [...new Set(data.firewall.open_tcp_ports)],
      scanSlowing: data.firewall.scan_slowing,
    },
    topology: normaliseTopology(data.topology),
  };
}

function normaliseTopology(t: RawConfig['topology']): TopologyConfig {
  return {
    hide: t.hide,
    key: t.key,
    previousKeys: t.previous_keys.map((p) => ({ key: p.key, until: p.until })),
    callId: t.call_id,
    internalHosts: [...new Set(t.internal_hosts)],
    out: { server: t.out.server, userAgent: t.out.user_agent, remove: [...new Set(t.out.remove)] },
    in: {
      server: t.in.server,
      userAgent: t.in.user_agent,
      remove: [...new Set(t.in.remove)],
      stripAssertedIdentity: t.in.strip_asserted_identity,
    },
  };
}

function normaliseGuards(g: RawConfig['guards'], baseDir: string): GuardsConfig {
  const file = (p: string) => resolve(baseDir, p);
  const s = g.scanner.signals;
  return {
    chain: g.chain,
    reply: g.reply,
    repliesPerSecond: g.replies_per_second,
    neverBan: [...new Set(g.never_ban)],
    acl: {
      mode: g.acl.mode,
      allow: [...new Set(g.acl.allow)],
      deny: [...new Set(g.acl.deny)],
      allowFiles: g.acl.allow_files.map(file),
      denyFiles: g.acl.deny_files.map(file),
      default: g.acl.default,
      action: g.acl.action,
    },
    bans: {
      mode: g.bans.mode,
      action: g.bans.action,
      defaultDuration: g.bans.default_duration,
      maxBans: g.bans.max_bans,
    },
    flood: {
      mode: g.flood.mode,
      window: g.flood.window,
      maxMessages: g.flood.max_messages,
      ban: g.flood.ban,
      maxSources: g.flood.max_sources,
    },
    sanity: { mode: g.sanity.mode, checks: [...new Set(g.sanity.checks)] },
    scanner: {
      mode: g.scanner.mode,
      userAgents: g.scanner.user_agents,
      sdpSessionNames: g.scanner.sdp_session_names,
      signals: {
        user_agent: s.user_agent,
        sql_injection: s.sql_injection,
        shell_metacharacters: s.shell_metacharacters,
        overlong_value: s.overlong_value,
        ip_literal_host: s.ip_literal_host,
        record_route_spoofing: s.record_route_spoofing,
        record_route_foreign: s.record_route_foreign,
        record_route_register: s.record_route_register,
        sdp_session_name: s.sdp_session_name,
      },
      recordRouteHosts: [...new Set(g.scanner.record_route_hosts)],
      scoreThreshold: g.scanner.score_threshold,
      scoreWindow: g.scanner.score_window,
      ban: g.scanner.ban,
    },
    auth: normaliseAuth(g.auth, file),
    bruteForce: {
      mode: g.brute_force.mode,
      maxFailures: g.brute_force.max_failures,
      window: g.brute_force.window,
      ban: g.brute_force.ban,
      normalizeNotFound: g.brute_force.normalize_not_found,
      maxEntries: g.brute_force.max_entries,
      distributed: {
        sources: g.brute_force.distributed.sources,
        window: g.brute_force.distributed.window,
        lock: g.brute_force.distributed.lock,
        lockDuration: g.brute_force.distributed.lock_duration,
      },
    },
    dialScan: {
      mode: g.dial_scan.mode,
      window: g.dial_scan.window,
      maxDestinations: g.dial_scan.max_destinations,
      ban: g.dial_scan.ban,
      methods: [...new Set(g.dial_scan.methods)],
      codes: [...new Set(g.dial_scan.codes)],
      maxSources: g.dial_scan.max_sources,
    },
    fraud: {
      mode: g.fraud.mode,
      callsPerMinute: g.fraud.calls_per_minute,
      concurrentCalls: g.fraud.concurrent_calls,
      repeatedCalls: g.fraud.repeated_calls,
      maxCallDuration: g.fraud.max_call_duration,
      denyPrefixes: [...new Set(g.fraud.deny_prefixes)],
      allowPrefixes: [...new Set(g.fraud.allow_prefixes)],
      maxUsers: g.fraud.max_users,
    },
  };
}

function normaliseAuth(a: RawConfig['guards']['auth'], file: (p: string) => string): AuthConfig {
  const realms: Record<string, string> = {};
  for (const [domain, realm] of Object.entries(a.realms)) realms[domain.toLowerCase()] = realm;
  return {
    mode: a.mode,
    realm: a.realm,
    realms,
    algorithms: a.algorithms,
    methods: [...new Set(a.methods.map((m) => m.toUpperCase()))],
    inDialog: a.in_dialog,
    source: a.source,
    usersFile: a.users_file === undefined ? undefined : file(a.users_file),
    nonceLifetime: a.nonce_lifetime,
    secret: a.secret,
    challenge: a.challenge,
    stripCredentials: a.strip_credentials,
    challengesPerSecond: a.challenges_per_second,
    maxNonces: a.max_nonces,
    identity: { check: a.identity.check, aliases: a.identity.aliases },
  };
}

/** guards.auth needs its users: a file, or the store's SQLite file. */
function checkAuth(data: RawConfig, loc: Locator): void {
  const a = data.guards.auth;
  if (!data.guards.chain.includes('auth') || a.mode === 'off') return;
  if (a.source === 'file' && a.users_file === undefined) {
    loc.add(['guards', 'auth', 'users_file'], 'required when guards.chain has auth and source is file');
  }
  if (a.source === 'store' && data.store.type !== 'sqlite') {
    loc.add(['guards', 'auth', 'source'], 'store needs store.type sqlite (users live in its file)');
  }
}

/** Why `file` cannot be used as a certificate or key file, or undefined when it can. */
function unreadable(file: string): string | undefined {
  try {
    if (!statSync(file).isFile()) return 'not a regular file';
    accessSync(file, constants.R_OK);
    return undefined;
  } catch (err) {
    return ioReason(err);
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
