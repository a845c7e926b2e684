/**
 * Is the xtables-addons TARPIT target usable on this machine? It takes two parts: the
 * iptables extension (`libxt_TARPIT.so`, package xtables-addons-common) and the kernel
 * module (`xt_TARPIT`, built by xtables-addons-dkms). Checked by looking for both files; nothing
 * is loaded or run.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';

const EXTENSION_DIRS = [
  '/usr/lib/x86_64-linux-gnu/xtables',
  '/usr/lib/aarch64-linux-gnu/xtables',
  '/usr/lib/xtables',
  '/usr/lib64/xtables',
  '/usr/libexec/xtables',
];

export interface TarpitSupport {
  extension: boolean;
  module: boolean;
}

function hasExtension(): boolean {
  const dirs = process.env.XTABLES_LIBDIR ? process.env.XTABLES_LIBDIR.split(':') : EXTENSION_DIRS;
  return dirs.some((dir) => dir !== '' && existsSync(join(dir, 'libxt_TARPIT.so')));
}

function hasModule(): boolean {
  try {
    if (/^xt_TARPIT\s/m.test(readFileSync('/proc/modules', 'utf8'))) return true;
  } catch {
    // no /proc/modules (container): look for the module file
  }
  try {
    const entries = readdirSync(join('/lib/modules', release()), { recursive: true });
    return entries.some((e) => /(^|\/)xt_TARPIT\.ko(\.[a-z]+)?$/.test(String(e)));
  } catch {
    return false;
  }
}

export function detectTarpit(): TarpitSupport {
  return { extension: hasExtension(), module: hasModule() };
}
