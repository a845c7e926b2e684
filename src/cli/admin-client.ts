/**
 * The CLI's client of a running sipwarden's admin API: where it listens (`--url`, else
 * `admin.listen` of the configuration) and its token (`--token`, `SIPWARDEN_ADMIN_TOKEN`, else
 * `<data_dir>/admin-token`). `undefined` from `call` means no instance answered: the commands
 * that can fall back to the files do.
 */
import { DEFAULT_ADMIN_URL, parseAdminListen } from '../admin/config.js';
import { readAdminToken } from '../admin/token.js';
import { DEFAULT_DATA_DIR, loadConfig } from '../config/index.js';
import { sanitize } from '../log/sanitize.js';
import { UsageError } from './common.js';

export const TOKEN_ENV = 'SIPWARDEN_ADMIN_TOKEN';
/** How long the CLI waits for the admin API. */
const TIMEOUT_MS = 3000;

/** Where the token came from: the operator (`option`, `environment`) or the installation. */
export type TokenSource = 'option' | 'environment' | 'configuration' | 'data-dir';

export interface AdminTarget {
  readonly url: string;
  readonly token: string | undefined;
  readonly tokenSource: TokenSource | undefined;
  /** True when `--url` named the instance (not the configuration or the default). */
  readonly urlGiven: boolean;
  /** `admin.enabled` of the configuration (true without one). */
  readonly enabled: boolean;
}

/** The admin API to ask, from the command line, the environment and the configuration. */
export function adminTarget(values: { url?: string; token?: string; config?: string }): AdminTarget {
  let url = values.url;
  let dataDir = DEFAULT_DATA_DIR;
  let configured: string | undefined;
  let enabled = true;
  if (values.config !== undefined) {
    const c = loadConfig({ file: values.config });
    dataDir = c.dataDir;
    url ??= c.admin.listen.url;
    configured = c.admin.token;
    enabled = c.admin.enabled;
  }
  try {
    url = parseAdminListen(url ?? DEFAULT_ADMIN_URL).url;
  } catch (err) {
    throw new UsageError(`--url: ${(err as Error).message}`);
  }
  const sources: [TokenSource, string | undefined][] = [
    ['option', values.token],
    ['environment', process.env[TOKEN_ENV]],
    ['configuration', configured],
    ['data-dir', readAdminToken(dataDir)],
  ];
  const [tokenSource, token] = sources.find(([, t]) => t !== undefined) ?? [undefined, undefined];
  return { url, token, tokenSource, urlGiven: values.url !== undefined, enabled };
}

export class AdminApiError extends Error {
  constructor(
    message: string,
    /** The HTTP status of the answer, when there was one. */
    readonly status?: number,
  ) {
    super(message);
  }
}

/**
 * Calls the admin API; resolves with the JSON answer, or undefined when nothing answers at
 * `target.url` (connection refused, timeout). An answer that is an error (401, 400...) throws
 * AdminApiError with its message.
 */
export async function callAdmin(
  target: AdminTarget,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> } | undefined> {
  const headers: Record<string, string> = {};
  if (target.token !== undefined) headers.authorization = `Bearer ${target.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(`${target.url}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch {
    return undefined;
  }
  let parsed: Record<string, unknown>;
  try {
    parsed = (await res.json()) as Record<string, unknown>;
  } catch {
    throw new AdminApiError(`${target.url}: answered ${res.status} without JSON: is it sipwarden's admin API?`);
  }
  if (res.status === 401) {
    throw new AdminApiError(
      `${target.url}: the token was refused (give --token, set ${TOKEN_ENV}, or run where the data directory is)`,
      401,
    );
  }
  if (res.status === 429) {
    throw new AdminApiError(`${target.url}: too many failed attempts from here; wait a minute`, 429);
  }
  if (res.status >= 500) {
    throw new AdminApiError(`${target.url}: ${sanitize(String(parsed.error ?? res.status), 200)}`, res.status);
  }
  return { status: res.status, body: parsed };
}
