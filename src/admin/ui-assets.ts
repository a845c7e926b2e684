/**
 * The dashboard's files, read once when the admin server starts: the pages and modules of the
 * package's `ui/` folder, and uPlot's dist files from node_modules. Only the files listed here
 * are ever served, so no request path reaches the file system.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** The package's `ui/` folder (this module runs as dist/src/admin/ui-assets.js). */
export const UI_DIR = fileURLToPath(new URL('../../../ui', import.meta.url));

/** uPlot's files as the dashboard asks for them, under /ui/vendor/. */
const VENDOR: Readonly<Record<string, string>> = {
  'uplot.esm.js': 'uPlot.esm.js',
  'uplot.min.css': 'uPlot.min.css',
};

const MAX_FILES = 200;

export interface UiAssets {
  /** The two pages (never served under /ui/). */
  readonly dashboard: Asset;
  readonly login: Asset;
  /** Files under /ui/, by their path below it (`app.js`, `parts/feed.js`, `vendor/uplot.esm.js`). */
  readonly files: ReadonlyMap<string, Asset>;
}

function asset(file: string): Asset {
  const type = CONTENT_TYPES[extname(file)];
  if (type === undefined) throw new Error(`no content type for ${file}`);
  return { body: readFileSync(file), contentType: type };
}

/** Every file below `dir` with a known content type, as paths relative to it with `/`. */
function listFiles(dir: string): string[] {
  const found: string[] = [];
  const walk = (folder: string) => {
    for (const name of readdirSync(folder).sort()) {
      const path = join(folder, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (CONTENT_TYPES[extname(name)] !== undefined) found.push(relative(dir, path).split(sep).join('/'));
      if (found.length > MAX_FILES) throw new Error(`more than ${MAX_FILES} files in ${dir}`);
    }
  };
  walk(dir);
  return found;
}

export function loadUiAssets(dir = UI_DIR): UiAssets {
  const files = new Map<string, Asset>();
  for (const path of listFiles(dir)) {
    if (path.endsWith('.html')) continue;
    files.set(path, asset(join(dir, path)));
  }
  const require = createRequire(import.meta.url);
  const uplotDist = join(dirname(require.resolve('uplot/package.json')), 'dist');
  for (const [served, file] of Object.entries(VENDOR)) files.set(`vendor/${served}`, asset(join(uplotDist, file)));
  return { dashboard: asset(join(dir, 'dashboard.html')), login: asset(join(dir, 'login.html')), files };
}
