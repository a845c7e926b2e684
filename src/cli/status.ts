/** `sipwarden status`: a summary of a running sipwarden, from its admin API (as `fail2ban-client status`). */
import { sanitize } from '../log/sanitize.js';
import { adminTarget, callAdmin } from './admin-client.js';
import { FAILED, OK, parseCommandLine, reportFailure } from './common.js';

export const STATUS_USAGE = `Usage: sipwarden status [--config FILE] [--url URL] [--token TOKEN] [--json]

Shows a running sipwarden: version and uptime, listeners, upstream targets up and down,
bans in force and messages blocked by each guard, from its admin API.

  --config FILE   find the admin API (admin.listen) and its token (data_dir) here
  --url URL       the admin API (default: admin.listen of --config, else http://127.0.0.1:5080)
  --token TOKEN   the admin token (default: $SIPWARDEN_ADMIN_TOKEN, else <data_dir>/admin-token)
  --json          everything as JSON

Exit status: 0 done, 1 no instance answered or it refused, 2 usage error.`;

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

interface Listener {
  url: string;
}
interface Upstream {
  name: string;
  targets: { url: string; up: boolean }[];
}

export async function statusCommand(
  argv: string[],
  out: (line: string) => void,
  err: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<number> {
  const parsed = parseCommandLine('status', argv, STATUS_USAGE, OPTIONS, out, err);
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  try {
    const target = adminTarget(values);
    const status = await callAdmin(target, 'GET', '/api/status');
    if (status === undefined) {
      err(`sipwarden status: no sipwarden answers at ${target.url}`);
      return FAILED;
    }
    const [upstreams, bans, stats] = await Promise.all([
      callAdmin(target, 'GET', '/api/upstreams'),
      callAdmin(target, 'GET', '/api/bans?limit=1'),
      callAdmin(target, 'GET', '/api/stats'),
    ]);
    const all = {
      status: status.body,
      upstreams: upstreams?.body.upstreams ?? [],
      bans: bans?.body.total ?? 0,
      stats: stats?.body ?? {},
    };
    if (values.json === true) out(JSON.stringify(all, null, 2));
    else out(summary(all));
    return OK;
  } catch (e) {
    return reportFailure('status', e, err);
  }
}

function summary(all: {
  status: Record<string, unknown>;
  upstreams: unknown;
  bans: unknown;
  stats: Record<string, unknown>;
}): string {
  const s = all.status;
  const listeners = (s.listeners as Listener[] | undefined) ?? [];
  const upstreams = (all.upstreams as Upstream[]) ?? [];
  const targets = upstreams.flatMap((u) => u.targets.map((t) => ({ ...t, upstream: u.name })));
  const up = targets.filter((t) => t.up).length;
  const blocked = Object.entries((all.stats.blocked as Record<string, number> | undefined) ?? {});
  const text = (v: unknown) => sanitize(String(v ?? '-'), 200);
  const lines = [
    'Status',
    `|- Version:          ${text(s.version)}, up ${text(s.uptimeSeconds)}s (since ${text(s.startedAt)})`,
    `|- Configuration:    ${text(s.configFile ?? 'none')} (loaded ${text(s.configLoadedAt)})`,
    `|- Listeners:        ${listeners.length}`,
    ...listeners.map((l, i) => `|  ${i === listeners.length - 1 ? '`' : '|'}- ${text(l.url)}`),
    `|- Upstream targets: ${up} up, ${targets.length - up} down`,
    ...targets.map(
      (t, i) =>
        `|  ${i === targets.length - 1 ? '`' : '|'}- ${text(t.upstream)} ${text(t.url)} ${t.up ? 'up' : 'DOWN'}`,
    ),
    `|- Bans active:      ${text(all.bans)}`,
    `\`- Blocked by guard: ${blocked.length === 0 ? 'none' : blocked.map(([g, n]) => `${text(g)} ${n}`).join(', ')}`,
  ];
  return lines.join('\n');
}
