import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root (tests run from dist/test/..., sources live in test/...). */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * The shared RFC 4475 / RFC 5118 torture corpus beside the project checkout: `../shared/corpus`
 * from the checkout, or from a directory above it (a second checkout one level deeper).
 */
export const CORPUS_DIR = findCorpus();

function findCorpus(): string {
  for (let dir = PROJECT_ROOT; ; dir = dirname(dir)) {
    const candidate = resolve(dir, '../shared/corpus');
    if (existsSync(join(candidate, 'manifest.json'))) return candidate;
    if (dirname(dir) === dir) return resolve(PROJECT_ROOT, '../shared/corpus');
  }
}

export type CorpusClass = 'valid' | 'invalid' | 'semantic' | 'either';

export interface CorpusEntry {
  file: string;
  class: CorpusClass;
  section?: string;
  data: Buffer;
}

export function loadCorpus(): CorpusEntry[] {
  const manifest = JSON.parse(readFileSync(join(CORPUS_DIR, 'manifest.json'), 'utf8')) as {
    messages: Record<string, { class: CorpusClass; section?: string }>;
  };
  return Object.entries(manifest.messages).map(([file, m]) => ({
    file,
    class: m.class,
    section: m.section,
    data: readFileSync(join(CORPUS_DIR, file)),
  }));
}
