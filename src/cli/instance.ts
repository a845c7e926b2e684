/**
 * Whether `sipwarden bans` and `sipwarden attacks` work through the running sipwarden (its admin
 * API) or on the files, as they did before there was an admin API:
 * - `--db FILE` names a file: the file, always;
 * - `--url URL` names an instance: that instance, and an error when it does not answer;
 * - otherwise the instance at `admin.listen` of `--config` (else the default URL) when it
 *   answers, else the files. With the configuration's `admin.enabled: false`, or no token at
 *   all (an instance of this data directory would have made `<data_dir>/admin-token`), the
 *   files, without asking.
 * A refused token is an error, except in one case: at the default URL, a token that came from
 * the installation (the configuration or its data directory) that the instance there refuses
 * shows that instance is another installation's (two on one host, only one of them holding the
 * default port): this installation's files are the ones meant.
 */
import { DEFAULT_ADMIN_URL } from '../admin/config.js';
import { AdminApiError, type AdminTarget, adminTarget, callAdmin } from './admin-client.js';
import { UsageError } from './common.js';

export interface InstanceOptions {
  config?: string;
  db?: string;
  url?: string;
  token?: string;
}

/** The running instance to work through, or undefined for the files. */
export async function reachInstance(values: InstanceOptions): Promise<AdminTarget | undefined> {
  if (values.db !== undefined) {
    if (values.url !== undefined) throw new UsageError('give --url or --db, not both');
    if (values.token !== undefined) throw new UsageError('--token goes with the admin API, not with --db');
    return undefined;
  }
  const target = adminTarget(values);
  if (!target.urlGiven && (!target.enabled || target.token === undefined)) return undefined;
  let answer: Awaited<ReturnType<typeof callAdmin>>;
  try {
    answer = await callAdmin(target, 'GET', '/api/status');
  } catch (e) {
    if (e instanceof AdminApiError && (e.status === 401 || e.status === 429) && anotherInstallation(target)) {
      return undefined;
    }
    throw e;
  }
  if (answer !== undefined) return target;
  if (target.urlGiven) throw new AdminApiError(`no sipwarden answers at ${target.url}`);
  return undefined;
}

/** A refusal at the default URL of a token the installation gave: another installation's instance. */
function anotherInstallation(target: AdminTarget): boolean {
  return (
    !target.urlGiven &&
    target.url === DEFAULT_ADMIN_URL &&
    (target.tokenSource === 'configuration' || target.tokenSource === 'data-dir')
  );
}

/** Calls the instance reached; it must answer (it did a moment ago). */
export async function askInstance(
  target: AdminTarget,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  const answer = await callAdmin(target, method, path, body);
  if (answer === undefined) throw new AdminApiError(`${target.url}: sipwarden stopped answering`);
  return answer;
}
