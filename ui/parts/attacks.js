/** Honeypot attack records (/api/attacks): what each source tried while held. */
import { getJson } from '../lib/api.js';
import { chips, el, emptyRow, replaceChildren, row } from '../lib/dom.js';
import { dateTime, relative } from '../lib/format.js';

export function startAttacks({ body }) {
  return async function refresh() {
    const { attacks = [] } = await getJson('/api/attacks?limit=50');
    replaceChildren(
      body,
      attacks.length === 0
        ? [emptyRow(7, 'No source has reached the honeypot.')]
        : attacks.map((a) =>
            row(
              [
                el('code', {}, a.address),
                String(a.requests ?? 0),
                el('span', { title: `first ${dateTime(a.firstSeen)}` }, relative(a.lastSeen)),
                chips(a.usernames),
                chips(a.numbers),
                chips(a.userAgents, 3),
                chips(a.reasons, 3),
              ],
              { 'data-attack': a.address },
            ),
          ),
    );
  };
}
