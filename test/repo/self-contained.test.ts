/**
 * A fresh clone must pass its tests with nothing beside it: no test, benchmark or script may
 * read anything outside the checkout (the torture corpus lives in test/fixtures/corpus).
 *
 * Two checks, one static and one at run time:
 * - every source under test/, bench/, scripts/ and .ci/ is scanned for paths that leave the
 *   checkout: a work area of this machine named absolutely (`/work/...`, `/home/...`), the
 *   old corpus directory beside the checkout (`..` then `shared`), or a relative climb (`'../..'`, `'..'`) that is not anchored to
 *   the file's own compiled location or climbs above the root;
 * - the checkout's files are copied alone into an empty temporary directory, and the tests
 *   that read files (the corpus, the docs, the CLI on corpus files) are compiled and run
 *   there. As root, in a private mount namespace the directory that holds the original
 *   checkout is covered by an empty tmpfs, so even an absolute path back to it (or to
 *   anything beside it) fails; without root the copy alone still catches relative climbs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { describe, it } from 'node:test';
import { CORPUS_DIR, PROJECT_ROOT } from '../helpers/corpus.js';

// ---- the static scan ----------------------------------------------------------------------

/** Work areas of a machine: never where a test's data may come from. System paths are fine. */
const MACHINE_PATH = /["'`](?:\/work|\/home|\/root|\/mnt|\/media|\/srv)(?:\/|["'`])/;
/** Where the corpus used to be read from, beside the checkout. */
const SHARED = /(?:\.\.\/)+shared\b|shared\/corpus/;
/** The directory beside the checkout, spelt so that no scan of this file (ours or others') takes it for a read. */
const BESIDE = ['..', 'shared'].join('/');
/** A string literal that is a relative climb: `..`, `../..`, `../../docs/x.md`. */
const CLIMB_LITERAL = /(["'`])((?:\.\.\/)*\.\.)(?:\/[^"'`]*)?\1/g;
/** An import specifier (one-line or the last line of a multi-line import): the compiler's business. */
const IMPORT_LINE = /\bfrom\s+(["'`])[^"'`]*\1;?\s*$|\bimport\(\s*["'`]/;
/** This file: its examples of what the scan flags are data. */
const THIS_FILE = 'test/repo/self-contained.test.ts';

export interface OutsidePath {
  line: number;
  text: string;
  why: string;
}

/** Directory depth of the place a source file runs from: `dist/<dir>` for TypeScript. */
function runDepth(file: string): number {
  const dir = dirname(file.endsWith('.ts') ? `dist/${file}` : file);
  return dir === '.' ? 0 : dir.split('/').length;
}

/**
 * Paths in one source file (`file` relative to the root, `/`-separated) that may read outside
 * the checkout. Comment lines are skipped; import specifiers are left to the compiler (whose
 * rootDir is the checkout).
 */
export function outsidePaths(file: string, text: string): OutsidePath[] {
  const found: OutsidePath[] = [];
  const shell = !file.endsWith('.ts') && !file.endsWith('.js') && !file.endsWith('.mjs');
  const depth = runDepth(file);
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line.startsWith('//') || line.startsWith('*') || line.startsWith('/*') || (shell && line.startsWith('#'))) {
      return;
    }
    const at = (why: string) => found.push({ line: i + 1, text: line.slice(0, 160), why });
    if (MACHINE_PATH.test(line)) at('names a work area of this machine');
    if (SHARED.test(line)) at('reads the shared directory beside the checkout');
    if (IMPORT_LINE.test(line)) return;
    if (shell) {
      // `$(dirname "$0")/..` climbs from the script's own directory; any other `..` is relative
      // to wherever it was run from.
      const anchored = /\$\(dirname\s+"?\$0"?\)((?:\/\.\.)*)/.exec(line);
      const climbs = anchored === null ? 0 : anchored[1]!.split('/..').length - 1;
      if (climbs > depth) at(`climbs ${climbs} levels from a directory ${depth} deep`);
      const rest = anchored === null ? line : line.replace(anchored[0], '');
      if (/(^|[\s"'=:/])\.\.(\/|\s|"|'|$)/.test(rest)) at('climbs relative to the working directory');
      return;
    }
    let climbs = 0;
    for (const m of line.matchAll(CLIMB_LITERAL)) climbs += m[2]!.split('/').length;
    if (climbs === 0) return;
    if (!line.includes('import.meta.url')) at('climbs from a directory that is not its own location');
    else if (climbs > depth) at(`climbs ${climbs} levels from dist/${dirname(file)} (${depth} deep)`);
  });
  return found;
}

/** Sources of tests, benchmarks and scripts, relative to the root (fixtures are data). */
function sources(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(PROJECT_ROOT, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`;
      if (entry.isDirectory()) {
        if (rel !== 'test/fixtures') walk(rel);
      } else if (/\.(ts|js|mjs|sh)$/.test(entry.name) || isScript(rel)) {
        out.push(rel);
      }
    }
  };
  for (const dir of ['test', 'bench', 'scripts', '.ci']) walk(dir);
  return out;
}

function isScript(rel: string): boolean {
  return readFileSync(join(PROJECT_ROOT, rel), 'latin1').startsWith('#!');
}

describe('self-contained: no test, benchmark or script reads outside the checkout', () => {
  it('the scan flags paths that leave the checkout, and accepts anchored ones', () => {
    const flagged = (file: string, text: string) => outsidePaths(file, text).map((f) => f.why);
    assert.deepEqual(flagged('test/helpers/x.ts', `const c = resolve(PROJECT_ROOT, '${BESIDE}/corpus');`), [
      'reads the shared directory beside the checkout',
      'climbs from a directory that is not its own location',
    ]);
    assert.deepEqual(flagged('test/sip/x.test.ts', `readFileSync('/work/${'shared'}/corpus/manifest.json')`), [
      'names a work area of this machine',
      'reads the shared directory beside the checkout',
    ]);
    assert.deepEqual(flagged('test/sip/x.test.ts', "join(ROOT, '..', '..', 'data')"), [
      'climbs from a directory that is not its own location',
    ]);
    assert.deepEqual(flagged('test/sip/x.test.ts', "new URL('../../../../x', import.meta.url)"), [
      'climbs 4 levels from dist/test/sip (3 deep)',
    ]);
    assert.deepEqual(flagged('scripts/x.sh', 'cd "$(dirname "$0")/../.."'), [
      'climbs 2 levels from a directory 1 deep',
    ]);
    assert.deepEqual(flagged('scripts/x.sh', `cat ${BESIDE}/corpus/README.md`), [
      'reads the shared directory beside the checkout',
      'climbs relative to the working directory',
    ]);
    // Anchored to the file's own compiled location, within the root: fine.
    assert.deepEqual(
      flagged('test/config/x.test.ts', "new URL('../../../docs/configuration.md', import.meta.url)"),
      [],
    );
    assert.deepEqual(flagged('test/helpers/x.ts', "resolve(dirname(fileURLToPath(import.meta.url)), '../../..')"), []);
    assert.deepEqual(flagged('scripts/test.sh', 'cd "$(dirname "$0")/.."'), []);
    assert.deepEqual(flagged('test/sip/x.test.ts', "import { x } from '../../src/sip/parser.js';"), []);
    assert.deepEqual(
      flagged('test/helpers/kamailio.ts', "const M = '/usr/lib/x86_64-linux-gnu/kamailio/modules/';"),
      [],
    );
  });

  it('no source under test/, bench/, scripts/ or .ci/ names a path outside the checkout', () => {
    const files = sources();
    assert.ok(files.length > 50, `only ${files.length} files scanned`);
    assert.ok(files.includes('scripts/test.sh') && files.includes('.ci/run'));
    const problems: string[] = [];
    for (const file of files) {
      if (file === THIS_FILE) continue;
      for (const p of outsidePaths(file, readFileSync(join(PROJECT_ROOT, file), 'utf8'))) {
        problems.push(`${file}:${p.line}: ${p.why}: ${p.text}`);
      }
    }
    assert.deepEqual(problems, []);
  });

  it('the corpus in test/fixtures/corpus is byte-exact (SHA256SUMS) and complete (manifest)', () => {
    const sums = readFileSync(join(CORPUS_DIR, 'SHA256SUMS'), 'utf8').trim().split('\n');
    const listed = new Set<string>();
    for (const line of sums) {
      const m = /^([0-9a-f]{64}) {2}(\S+)$/.exec(line);
      assert.ok(m, `bad SHA256SUMS line ${JSON.stringify(line)}`);
      const digest = createHash('sha256')
        .update(readFileSync(join(CORPUS_DIR, m[2]!)))
        .digest('hex');
      assert.equal(digest, m[1], `${m[2]} changed (a line-end conversion?)`);
      listed.add(m[2]!);
    }
    const manifest = JSON.parse(readFileSync(join(CORPUS_DIR, 'manifest.json'), 'utf8')) as {
      messages: Record<string, unknown>;
    };
    const files = Object.keys(manifest.messages);
    assert.equal(files.length, 61);
    for (const f of files) assert.ok(listed.has(f), `${f} is not in SHA256SUMS`);
    // CRLF survived: every message has a CRLF, and the corpus has no bare LF line ends.
    for (const f of files) assert.ok(readFileSync(join(CORPUS_DIR, f)).includes('\r\n'), `${f} lost its CRLFs`);
  });
});

// ---- the run-time check -------------------------------------------------------------------

/** Tests that read files of the checkout: the corpus, the docs, the CLI on corpus files. */
const FILE_READING_TESTS = [
  'dist/test/sip/corpus.test.js',
  'dist/test/sip/writer.test.js',
  'dist/test/sip/plain.test.js',
  'dist/test/sip/list-accessors.test.js',
  'dist/test/config/docs.test.js',
  'dist/test/cli/check-message.test.js',
];

/** Names never copied: installed or generated, not part of a clone. */
const NOT_IN_A_CLONE = new Set(['node_modules', 'dist', 'data', '.git', '.bench-tmp']);

/** The checkout's files as a clone would have them (tracked and new, not ignored). */
function checkoutFiles(): string[] {
  const git = spawnSync('git', ['-C', PROJECT_ROOT, 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    encoding: 'utf8',
  });
  if (git.status === 0) {
    return git.stdout
      .split('\0')
      .filter((f) => f !== '' && !NOT_IN_A_CLONE.has(f.split('/')[0]!))
      .filter((f) => statSync(join(PROJECT_ROOT, f), { throwIfNoEntry: false })?.isFile() === true);
  }
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(join(PROJECT_ROOT, dir), { withFileTypes: true })) {
      const rel = dir === '' ? e.name : `${dir}/${e.name}`;
      if (dir === '' && NOT_IN_A_CLONE.has(e.name)) continue;
      if (e.isDirectory()) walk(rel);
      else if (e.isFile()) out.push(rel);
    }
  };
  walk('');
  return out;
}

/** Why the original checkout's surroundings cannot be hidden here, or undefined. */
function sandboxUnavailable(copy: string): string | undefined {
  if (process.getuid?.() !== 0) return 'not root: a private mount namespace needs CAP_SYS_ADMIN';
  if (spawnSync('unshare', ['--version']).status !== 0) return 'unshare (util-linux) is not installed';
  const parent = dirname(PROJECT_ROOT);
  if (parent === dirname(parent)) return 'the checkout sits directly in /';
  const inside = (p: string) => p === parent || p.startsWith(parent + sep);
  if (inside(copy)) return `the temporary directory is inside ${parent}`;
  if (inside(process.execPath)) return `node itself is inside ${parent}`;
  // node_modules may be inside: it is bound into the copy before the parent is hidden.
  return undefined;
}

describe('self-contained: the checkout alone in an empty directory', () => {
  it('compiles and passes the tests that read files, with nothing beside it', { timeout: 180_000 }, (t) => {
    const box = mkdtempSync(join(tmpdir(), 'sipwarden-alone-'));
    try {
      const copy = join(box, 'sipwarden');
      for (const f of checkoutFiles()) {
        mkdirSync(dirname(join(copy, f)), { recursive: true });
        copyFileSync(join(PROJECT_ROOT, f), join(copy, f));
      }
      assert.ok(readFileSync(join(copy, 'test/fixtures/corpus/manifest.json')).length > 0);
      // Dependencies are what `npm ci` would install: the same node_modules, mounted or linked.
      const nodeModules = realpathSync(join(PROJECT_ROOT, 'node_modules'));
      const parent = dirname(PROJECT_ROOT);
      const steps = [
        'set -e',
        'cd "$1"',
        'shift',
        'node node_modules/typescript/bin/tsc -p .',
        'node --test --test-force-exit --test-concurrency=1 --test-timeout=120000 "$@"',
      ];
      const why = sandboxUnavailable(copy);
      let r: ReturnType<typeof spawnSync>;
      // A fresh `node --test`, not a child of this test run.
      const env = { ...process.env };
      delete env.NODE_TEST_CONTEXT;
      const tests = FILE_READING_TESTS;
      if (why === undefined) {
        // Private mount namespace: node_modules bound into the copy, then the directory that
        // holds the original checkout (and everything beside it) covered by an empty tmpfs.
        const script = [
          'set -e',
          'mkdir "$1/node_modules"',
          'mount --bind "$3" "$1/node_modules"',
          'mount -t tmpfs -o size=1m,mode=755 sipwarden-hidden "$2"',
          'if [ -n "$(ls -A "$2")" ]; then echo "$2 is not hidden" >&2; exit 3; fi',
          'copy="$1"; shift 3',
          'cd "$copy"',
          'node node_modules/typescript/bin/tsc -p .',
          'exec node --test --test-force-exit --test-concurrency=1 --test-timeout=120000 "$@"',
        ].join('\n');
        r = spawnSync(
          'unshare',
          ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', copy, parent, nodeModules, ...tests],
          { encoding: 'utf8', timeout: 170_000, env },
        );
      } else {
        t.diagnostic(`${parent} not hidden (${why}): the copy alone catches relative paths only`);
        spawnSync('ln', ['-s', nodeModules, join(copy, 'node_modules')]);
        r = spawnSync('sh', ['-c', steps.join('\n'), 'sh', copy, ...tests], {
          encoding: 'utf8',
          timeout: 170_000,
          env,
        });
      }
      const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
      assert.equal(r.status, 0, `the copy failed (status ${r.status}):\n${output.slice(-4000)}`);
      const passed = /^# pass (\d+)$/m.exec(output);
      const failed = /^# fail (\d+)$/m.exec(output);
      assert.ok(passed !== null && Number(passed[1]) >= 20, `too few tests ran:\n${output.slice(-2000)}`);
      assert.equal(failed?.[1], '0');
    } finally {
      rmSync(box, { recursive: true, force: true });
    }
  });
});
