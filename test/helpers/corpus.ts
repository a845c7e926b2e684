import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root (tests run from dist/test/..., sources live in test/...). */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * The RFC 4475 / RFC 5118 torture corpus, kept inside the repository with its provenance
 * (test/fixtures/corpus/README.md): tests never read anything outside the checkout.
 */
export const CORPUS_DIR = join(PROJECT_ROOT, 'test/fixtures/corpus');

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
