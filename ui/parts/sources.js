/** Top sources (/api/sources with the flood table's counts) and the networks they belong to. */
import { getJson } from '../lib/api.js';
import { el, emptyRow, replaceChildren, row } from '../lib/dom.js';
import { networkOf, relative } from '../lib/format.js';
import { durationOptions } from './durations.js';

/** Groups sources by network, busiest first. */
export function networks(sources) {
  const byNet = new Map();
  for (const s of sources) {
    const net = networkOf(s.address);
    const n = byNet.get(net) ?? { network: net, sources: 0, blocked: 0, lastSeen: 0 };
    n.sources += 1;
    n.blocked += Number(s.blocked) || 0;
    n.lastSeen = Math.max(n.lastSeen, new Date(s.lastSeen).getTime() || 0);
    byNet.set(net, n);
  }
  return [...byNet.values()].sort((a, b) => b.blocked - a.blocked || b.sources - a.sources);
}

/** `ban(target, duration)` bans from a row's "ban for" picker. */
export function startSources({ sourcesBody, networksBody, ban }) {
  const banFor = (target) => {
    const select = durationOptions(el('select', { 'aria-label': `Ban ${target} for` }));
    const button = el('button', { type: 'button', class: 'small' }, 'Ban');
    button.addEventListener('click', () => ban(target, select.value));
    return el('span', { class: 'ban-for' }, select, button);
  };
  return async function refresh() {
    const [{ sources = [] }, flood] = await Promise.all([
      getJson('/api/sources?limit=20'),
      getJson('/api/flood?limit=50').catch(() => ({ sources: [] })),
    ]);
    const inWindow = new Map((flood.sources ?? []).map((f) => [f.source, f.messages]));
    replaceChildren(
      sourcesBody,
      sources.length === 0
        ? [emptyRow(6, 'No source blocked yet.')]
        : sources.map((s) =>
            row(
              [
                el('code', {}, s.address),
                String(s.blocked ?? 0),
                String(inWindow.get(s.address) ?? ''),
                s.lastGuard ? `${s.lastGuard}/${s.lastRule ?? ''}` : '',
                relative(s.lastSeen),
                banFor(s.address),
              ],
              { 'data-source': s.address },
            ),
          ),
    );
    const nets = networks(sources);
    replaceChildren(
      networksBody,
      nets.length === 0
        ? [emptyRow(4, 'No network yet.')]
        : nets.map((n) => row([el('code', {}, n.network), String(n.sources), String(n.blocked), relative(n.lastSeen)])),
    );
  };
}
