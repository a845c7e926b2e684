/** `log`: logging. */
import * as z from 'zod';
import { filePath } from '../config/fields.js';
import { section } from '../config/section.js';
import { LOG_LEVELS } from './logger.js';

export const logSchema = section({
  level: z
    .enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` })
    .default('info')
    .meta({ description: 'Least severe level written. Logs are JSON, one object per line, on standard output.' }),
  file: filePath.optional().meta({
    default: 'none',
    description:
      'Also append log lines to this file (for fail2ban without the systemd journal). Relative to the configuration file. Created 0600 (its directory 0700) when missing, and never through a symbolic link; an existing file keeps the read access it has but loses write access for group and others (anyone could write ban lines for fail2ban).',
  }),
})
  .prefault({})
  .meta({ description: 'Logging.' });

export type LogConfig = z.output<typeof logSchema>;
