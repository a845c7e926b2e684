/** `admin`: the HTTP(S) admin API and dashboard of a running sipwarden (docs/admin.md). */
import { isIP } from 'node:net';
import * as z from 'zod';
import { fail, filePath } from '../config/fields.js';
import { section } from '../config/section.js';

/** Shortest admin token accepted from the configuration (a generated one is 43 characters). */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:5080';

/** Where the admin API listens: scheme, IP literal and port. */
export interface AdminListen {
  readonly url: string;
  readonly tls: boolean;
  /** IP address, IPv6 without brackets. */
  readonly host: string;
  readonly port: number;
  /** True for 127.0.0.0/8 and ::1: not reachable from other hosts. */
  readonly loopback: boolean;
}

/** Parses `http://127.0.0.1:5080`, `https://[::1]:8443`; throws an Error naming what is wrong. */
export function parseAdminListen(text: string): AdminListen {
  const m = /^(https?):\/\/(\[[0-9a-fA-F:.]+\]|[0-9.]+)(?::([0-9]{1,5}))?\/?$/.exec(text);
  if (m === null) throw new Error('expected http://ADDRESS:PORT or https://ADDRESS:PORT (an IP address, no path)');
  const tls = m[1] === 'https';
  const host = m[2]!.startsWith('[') ? m[2]!.slice(1, -1).toLowerCase() : m[2]!;
  if (isIP(host) === 0) throw new Error(`${host.slice(0, 45)} is not an IP address`);
  const port = m[3] === undefined ? (tls ? 443 : 80) : Number(m[3]);
  if (port < 1 || port > 65535) throw new Error(`port must be from 1 to 65535, got ${port}`);
  const bracketed = isIP(host) === 6 ? `[${host}]` : host;
  const loopback = host === '::1' || /^127\./.test(host);
  return { url: `${m[1]}://${bracketed}:${port}`, tls, host, port, loopback };
}

const adminListen = z
  .string()
  .transform((text, ctx): AdminListen => {
    try {
      return parseAdminListen(text);
    } catch (err) {
      return fail(ctx, (err as Error).message);
    }
  })
  .meta({ type: 'URL' });

export const adminSchema = section({
  enabled: z.boolean().default(true).meta({
    description:
      'Serve the admin API (and the dashboard) on `listen`. Every request needs the token (or a dashboard session).',
  }),
  listen: adminListen.default(parseAdminListen(DEFAULT_ADMIN_URL)).meta({
    type: 'URL',
    default: `\`${DEFAULT_ADMIN_URL}\``,
    description:
      '`http://ADDRESS:PORT`, or `https://ADDRESS:PORT` with `cert` and `key`. The default is reachable from this host only; `sipwarden firewall` keeps the port closed to other hosts unless allowed.',
  }),
  cert: filePath.optional().meta({ description: 'PEM certificate (chain) for an `https://` listen URL.' }),
  key: filePath.optional().meta({ description: 'PEM private key for an `https://` listen URL.' }),
  token: z
    .string()
    .refine((s) => s === '' || s.length >= MIN_ADMIN_TOKEN_LENGTH, {
      // Never quote the value: it is a secret.
      error: (issue) =>
        `must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters long (got ${(issue.input as string).length})`,
    })
    .optional()
    .transform((s) => (s === '' ? undefined : s))
    .meta({
      type: `string of ${MIN_ADMIN_TOKEN_LENGTH} or more characters`,
      default: 'generated',
      description:
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the text is about ${...} in YAML
        'Bearer token of the admin API (`${SIPWARDEN_ADMIN_TOKEN}` reads it from the environment). When not set, one is generated on first start and kept in `<data_dir>/admin-token` (mode 0600), and reused. Never logged.',
    }),
})
  .prefault({})
  .transform((admin, ctx) => {
    if (ctx.issues.length === 0 && admin.listen.tls && (admin.cert === undefined || admin.key === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'an https:// listen URL needs cert and key', path: ['listen'] });
    }
    return admin;
  })
  .meta({
    description:
      'The admin API of the running sipwarden: status, bans, events, reload, metrics ([docs/admin.md](admin.md)).',
  });

export type AdminConfig = z.output<typeof adminSchema>;
