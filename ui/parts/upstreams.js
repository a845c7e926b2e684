/** Upstream health (/api/upstreams): each target, up or down, failures and its last ping. */
import { getJson } from '../lib/api.js';
import { el, emptyRow, replaceChildren, row } from '../lib/dom.js';
import { relative } from '../lib/format.js';

function lastPing(ping) {
  if (!ping) return 'never';
  const rtt = typeof ping.rttMs === 'number' ? `${Math.round(ping.rttMs)} ms` : '';
  return [String(ping.status ?? ''), rtt, relative(ping.at)].filter(Boolean).join(', ');
}

export function startUpstreams({ body }) {
  return async function refresh() {
    const { upstreams = [] } = await getJson('/api/upstreams');
    const rows = upstreams.flatMap((u) =>
      (u.targets ?? []).map((t) =>
        row([
          u.name,
          el('code', {}, t.url),
          el('span', { class: t.up ? 'badge up' : 'badge down' }, t.up ? 'up' : 'down'),
          String(t.failures ?? 0),
          lastPing(t.lastPing),
        ]),
      ),
    );
    replaceChildren(body, rows.length === 0 ? [emptyRow(5, 'No upstream configured.')] : rows);
  };
}
