/**
 * Writes the configuration reference (rendered from the schema) into docs/configuration.md,
 * between its markers. Run: `npm run docs:config`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { withReference } from '../src/config/reference.js';

// dist/scripts/ -> repository root
const file = new URL('../../docs/configuration.md', import.meta.url);
const before = readFileSync(file, 'utf8');
const after = withReference(before);
if (after !== before) writeFileSync(file, after);
process.stdout.write(`docs/configuration.md: ${after === before ? 'up to date' : 'reference rewritten'}\n`);
