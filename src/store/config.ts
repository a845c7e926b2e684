/** `store`: where bans (and the edge-auth users) are kept. */
import * as z from 'zod';
import { nonEmpty, oneOf } from '../config/fields.js';

/** The SQLite file's name in `data_dir` when `store.file` is not set. */
export const DEFAULT_STORE_FILE = 'sipwarden.db';

/**
 * `path` is the file as written (default DEFAULT_STORE_FILE): relative to `data_dir`, which
 * the composed schema resolves it against.
 */
export const storeSchema = z
  .strictObject({
    type: oneOf(['sqlite', 'memory'] as const)
      .default('sqlite')
      .meta({
        description:
          '`sqlite`: an embedded database file that survives restarts and `kill -9`; `memory`: lost on restart.',
      }),
    file: nonEmpty.default(DEFAULT_STORE_FILE).meta({
      type: 'file path',
      description: 'The SQLite file, relative to `data_dir`. `sipwarden bans` works on the same file.',
    }),
  })
  .transform(({ type, file }) => ({ type, path: file }))
  .prefault({})
  .meta({ description: 'Where bans are kept.' });

export type StoreConfig = z.output<typeof storeSchema>;
