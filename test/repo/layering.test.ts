/**
 * Dependencies point one way (docs/architecture.md): addresses and SIP at the bottom, then the
 * shared vocabulary (core, log, store, configuration helpers), then the modules, the sockets,
 * routing, and on top the wiring. This test reads every import of `src/` (types too) and fails
 * on one that points up or sideways across the rules below.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { PROJECT_ROOT } from '../helpers/corpus.js';

const SRC = join(PROJECT_ROOT, 'src');

/** The wiring and the configuration loader, which compose every part. */
const TOP = new Set(['server.ts', 'modules.ts', 'index.ts', 'config/schema.ts', 'config/loader.ts', 'config/index.ts']);
/** Modules: capabilities on the message hooks. */
const MODULES = ['guards', 'auth', 'topology', 'honeypot', 'watch', 'firewall', 'ops'];

/**
 * What each part may not import (folders under src/, or files for the top). A folder's files may
 * import each other; a module may read the configuration's types (the loader composes the
 * sections each module defines).
 */
function forbidden(from: string): (to: string) => boolean {
  const area = areaOf(from);
  const rule = rules(area);
  return (to) => !to.startsWith(`${area}/`) && rule(to);
}

function rules(area: string): (to: string) => boolean {
  const isTop = (to: string) => TOP.has(to) || to.startsWith('cli/');
  switch (area) {
    case 'net':
      return (to) => areaOf(to) !== 'net';
    case 'sip':
      return (to) => !['net', 'sip'].includes(areaOf(to));
    case 'core':
    case 'log':
    case 'store':
    case 'config':
      // The shared vocabulary: nothing above it (modules, sockets, routing, wiring).
      return (to) => isTop(to) || [...MODULES, 'transport', 'proxy'].includes(areaOf(to));
    case 'transport':
      return (to) => isTop(to) || [...MODULES, 'proxy'].includes(areaOf(to));
    case 'proxy':
      return (to) => isTop(to) || MODULES.includes(areaOf(to));
    case 'cli':
    case 'top':
      return () => false;
    default:
      // A module: never the sockets, routing or the wiring; other modules and everything below.
      return (to) => (isTop(to) && !to.startsWith('config/')) || ['transport', 'proxy'].includes(areaOf(to));
  }
}

function areaOf(file: string): string {
  if (TOP.has(file)) return 'top';
  const slash = file.indexOf('/');
  return slash === -1 ? 'top' : file.slice(0, slash);
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Relative imports of a file (static, type-only and dynamic), as paths under src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)'(\.{1,2}\/[^']+)'/g)) {
    const target = resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts'));
    out.push(relative(SRC, target));
  }
  return out;
}

describe('repository: dependencies point one way', () => {
  it('no file of src/ imports a part it may not', () => {
    const violations: string[] = [];
    const files = sourceFiles(SRC);
    assert.ok(files.length > 100, `found ${files.length} source files`);
    for (const file of files) {
      const from = relative(SRC, file);
      const bad = forbidden(from);
      for (const to of importsOf(file)) if (bad(to)) violations.push(`${from} -> ${to}`);
    }
    assert.deepEqual(violations, []);
  });

  it('the rules catch an import against them', () => {
    assert.equal(forbidden('guards/flood/flood.ts')('proxy/proxy.ts'), true);
    assert.equal(forbidden('topology/module.ts')('transport/manager.ts'), true);
    assert.equal(forbidden('proxy/proxy.ts')('topology/hider.ts'), true);
    assert.equal(forbidden('sip/parser.ts')('core/context.ts'), true);
    assert.equal(forbidden('core/context.ts')('guards/types.ts'), true);
    assert.equal(forbidden('guards/module.ts')('core/context.ts'), false);
    assert.equal(forbidden('server.ts')('proxy/proxy.ts'), false);
    assert.equal(forbidden('guards/module.ts')('modules.ts'), true);
    assert.equal(forbidden('transport/udp.ts')('guards/types.ts'), true);
  });
});
