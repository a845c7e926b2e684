/** `guards.acl`: allow and deny lists. */
import * as z from 'zod';
import { cidr, filePath, mode, oneOf, uniqueList } from '../../config/fields.js';
import { section } from '../../config/section.js';

export const aclSchema = section({
  mode: mode.default('enforce').meta({
    description:
      '`monitor` reports what the guard would do (events marked `monitor`) and lets everything through; every guard has this key.',
  }),
  allow: uniqueList(cidr).default([]).meta({
    type: 'list of networks or addresses',
    description:
      'Sources that skip the rest of the chain (never banned, never rate-limited), but are not trusted as the inside.',
  }),
  deny: uniqueList(cidr).default([]).meta({
    type: 'list of networks or addresses',
    description: 'Sources that are refused. A deny entry wins over an allow entry.',
  }),
  allow_files: z.array(filePath).default([]).meta({
    type: 'list of file paths',
    description:
      'Files with one address or network per line (`#` starts a comment), re-read when they change. Relative to the configuration file.',
  }),
  deny_files: z.array(filePath).default([]).meta({
    type: 'list of file paths',
    description: 'The same for deny lists: a shared blocklist can be dropped in.',
  }),
  default: oneOf(['allow', 'deny'] as const)
    .default('allow')
    .meta({ description: 'What happens to sources on neither list; `deny` admits only allow-listed sources.' }),
  action: oneOf(['drop', 'reply'] as const)
    .default('drop')
    .meta({ description: 'What a refused source gets.' }),
})
  .prefault({})
  .meta({ description: 'Allow and deny lists.' });

export type AclConfig = z.output<typeof aclSchema>;
