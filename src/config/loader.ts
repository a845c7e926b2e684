/**
 * Loads the configuration: YAML (with line numbers) -> environment substitution -> command-line
 * overrides -> schema (zod) -> cross-field checks -> normalised, frozen `Config`.
 *
 * Every problem becomes a `ConfigIssue` naming the file, the line and the field path (or the
 * command-line flag); all issues of one stage are reported together. Nothing but `ConfigError`
 * escapes for bad input.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type Document, isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, Scalar } from 'yaml';
import type * as z from 'zod';
import { describe } from '../net/ip.js';
import { type Env, type EnvUse, redactEnv, retypePlain, substituteEnv } from './env.js';
import { ConfigError, type ConfigIssue } from './errors.js';
import { describeValue, withPathBase } from './fields.js';
import { allowedKeysAt, type Config, configSchema } from './schema.js';

/** Command-line flags that override (replace) the file's values. */
export interface CliOverrides {
  /** `--listen URL` (repeatable): replaces `listen`. */
  listen?: string[];
  /** `--upstream URL` (repeatable): replaces `upstreams` by one upstream named `default`. */
  upstream?: string[];
  /** `--log-level LEVEL`: replaces `log.level`. */
  logLevel?: string;
  /** `--tls-cert FILE`: certificate for the tls:// addresses given by --listen. */
  tlsCert?: string;
  /** `--tls-key FILE`: private key for the tls:// addresses given by --listen. */
  tlsKey?: string;
}

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

  // 4. Schema: field checks, defaults, the camelCase result (paths relative to the file).
  const parsed = withPathBase({ baseDir, cwd }, () => configSchema.safeParse(raw, { reportInput: true }));
  if (!parsed.success) {
    for (const issue of parsed.error.issues) convertIssue(issue, [], loc, file === undefined);
    loc.throwIfAny();
  }
  const config = parsed.data!;

  // 5. Cross-field checks.
  crossCheck(config, loc);
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
    case 'custom':
      // `atKey`: the value is not wrong, its place is (e.g. a certificate on a udp:// address).
      loc.add(
        path,
        issue.message === 'required' ? requiredMessage(path, noFile) : issue.message,
        issue.params?.atKey === true,
      );
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

// ---- cross-field checks ----

/** Checks that relate several settings, or settings and files on disk. */
function crossCheck(config: Config, loc: Locator): void {
  checkListen(config, loc);
  checkUpstreams(config, loc);
  if (config.limits.maxHeaderBytes > config.limits.maxMessageBytes) {
    loc.add(
      ['limits', 'max_header_bytes'],
      `must not be larger than max_message_bytes (${config.limits.maxMessageBytes})`,
    );
  }
  if (config.tcp.maxConnectionsPerIp > config.tcp.maxConnections) {
    loc.add(
      ['tcp', 'max_connections_per_ip'],
      `must not be larger than max_connections (${config.tcp.maxConnections})`,
    );
  }
  // Only a reserve that was written can be too large: the default is at most a quarter.
  if (config.tcp.upstreamReserve >= config.tcp.maxConnections) {
    loc.add(['tcp', 'upstream_reserve'], `must be smaller than max_connections (${config.tcp.maxConnections})`);
  }
  if (config.tcp.maxPendingOutput < config.limits.maxMessageBytes) {
    loc.add(
      ['tcp', 'max_pending_output'],
      `must not be smaller than limits.max_message_bytes (${config.limits.maxMessageBytes})`,
    );
  }
  checkAuth(config, loc);
}

/** Certificate files readable; no two listeners on one socket. */
function checkListen(config: Config, loc: Locator): void {
  const bound = new Map<string, { index: number; url: string }>();
  config.listen.forEach((l, i) => {
    for (const field of ['cert', 'key'] as const) {
      const file = l[field];
      const problem = file === undefined ? undefined : unreadable(file);
      if (problem) loc.add(['listen', i, field], `cannot read ${describe(file)}: ${problem}`);
    }
    if (l.port === 0) return;
    // tcp:// and tls:// on the same address and port would both bind one TCP port.
    const socketKey = `${l.transport === 'udp' ? 'udp' : 'tcp'} ${l.host} ${l.port}`;
    const first = bound.get(socketKey);
    if (first === undefined) {
      bound.set(socketKey, { index: i, url: l.url });
      return;
    }
    const line = loc.lineFor(['listen', first.index]);
    const where = line !== undefined && !loc.cli.listen ? ` (line ${line})` : '';
    loc.add(
      ['listen', i],
      first.url === l.url
        ? `${l.url} is listed twice${where}`
        : `${l.url} and ${first.url}${where} would both use TCP port ${l.port} on ${l.host}`,
    );
  });
}

/** Unique names and targets, readable CA files, a default upstream that exists. */
function checkUpstreams(config: Config, loc: Locator): void {
  const names = new Map<string, number>();
  config.upstreams.forEach((u, i) => {
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
    const problem = u.tls.ca === undefined ? undefined : unreadable(u.tls.ca);
    if (problem) loc.add(['upstreams', i, 'tls', 'ca'], `cannot read ${describe(u.tls.ca)}: ${problem}`);
  });
  if (!names.has(config.defaultUpstream)) {
    loc.add(
      ['default_upstream'],
      `no upstream is named ${describe(config.defaultUpstream)} (upstreams: ${[...names.keys()].map(describe).join(', ')})`,
    );
  }
}

/** guards.auth needs its users: a file, or the store's SQLite file. */
function checkAuth(config: Config, loc: Locator): void {
  const a = config.guards.auth;
  if (!config.guards.chain.includes('auth') || a.mode === 'off') return;
  if (a.source === 'file' && a.usersFile === undefined) {
    loc.add(['guards', 'auth', 'users_file'], 'required when guards.chain has auth and source is file');
  }
  if (a.source === 'store' && config.store.type !== 'sqlite') {
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
