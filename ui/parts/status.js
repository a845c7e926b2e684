/** The header line: version, uptime and when the configuration was loaded (/api/status). */
import { getJson } from '../lib/api.js';
import { dateTime, span } from '../lib/format.js';

export function startStatus({ line }) {
  return async function refresh() {
    const s = await getJson('/api/status');
    line.textContent = `v${s.version} · up ${span(s.uptimeSeconds)} · config ${dateTime(s.configLoadedAt)}`;
    line.title = String(s.configFile ?? '');
  };
}
