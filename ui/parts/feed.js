/**
 * The live feed: the most recent events from /api/events, then every event the server pushes
 * on /api/events/stream, newest first, at most MAX_ROWS kept.
 */
import { getJson } from '../lib/api.js';
import { el } from '../lib/dom.js';
import { clock, dateTime } from '../lib/format.js';

const MAX_ROWS = 300;
const KINDS = ['block', 'ban', 'unban', 'ban-expired', 'bans-flushed', 'upstream', 'honeypot', 'alert'];

const where = (source) => (source?.address ? `${source.address}:${source.port} (${source.transport})` : '');

/** One line of text per kind: what happened, to whom. */
function describe(event) {
  switch (event.kind) {
    case 'block':
      return [where(event.source), `${event.guard}/${event.rule}`, event.action, event.method, event.detail];
    case 'ban':
      if (event.origin === 'external') {
        return [event.ban.target, `until ${dateTime(event.ban.expires)}`, event.ban.guard, event.ban.reason];
      }
      return [
        where(event.source),
        `${event.guard}/${event.rule}`,
        `${event.ban.target} until ${dateTime(event.ban.until)}`,
        event.method,
        event.detail,
      ];
    case 'unban':
      return [event.target, event.origin === 'external' ? 'by another process' : ''];
    case 'ban-expired':
      return [event.ban.target, 'expired'];
    case 'bans-flushed':
      return [`${event.count} bans lifted`];
    case 'upstream':
      return [event.upstream, event.target, event.state, event.why];
    case 'honeypot':
      return [where(event.source), event.guard ? `${event.guard}/${event.rule}` : 'held'];
    case 'alert':
      return [
        `${event.guard}/${event.rule}`,
        event.message,
        Object.entries(event.fields ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(' '),
      ];
    default:
      return [JSON.stringify(event)];
  }
}

function entry(event) {
  const parts = describe(event).filter((p) => p !== undefined && p !== null && p !== '');
  const kind = String(event.kind);
  return el(
    'li',
    { class: `event kind-${kind.replace(/[^a-z-]/g, '')}`, 'data-kind': kind },
    el('time', { datetime: new Date(event.time).toISOString() }, clock(event.time)),
    el('span', { class: 'kind' }, event.monitor ? `${kind} (monitor)` : kind),
    el(
      'span',
      { class: 'what' },
      parts.map((p) => el('span', {}, String(p))),
    ),
  );
}

/**
 * Starts the feed. `onEvent` hears every event (e.g. to refresh the bans after a ban);
 * `onLive(state)` hears 'live' / 'offline'.
 */
export function startFeed({ list, kindSelect, pause, onEvent, onLive }) {
  const show = (event) => {
    onEvent(event);
    if (pause.checked) return;
    const item = entry(event);
    item.hidden = kindSelect.value !== '' && !String(event.kind).startsWith(kindSelect.value);
    list.prepend(item);
    while (list.childElementCount > MAX_ROWS) list.lastElementChild.remove();
  };
  kindSelect.addEventListener('change', () => {
    for (const item of list.children) {
      item.hidden = kindSelect.value !== '' && !item.dataset.kind.startsWith(kindSelect.value);
    }
  });

  // Events arriving while the history loads wait, then only those the history lacks are shown.
  let pending = [];
  const stream = new EventSource('/api/events/stream');
  const receive = (message) => {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      return;
    }
    if (pending) pending.push({ event, raw: message.data });
    else show(event);
  };
  for (const kind of KINDS) stream.addEventListener(kind, receive);
  stream.addEventListener('message', receive);
  stream.addEventListener('open', () => onLive('live'));
  stream.addEventListener('error', () => onLive(stream.readyState === EventSource.CLOSED ? 'closed' : 'offline'));

  getJson('/api/events?limit=200')
    .then(({ events }) => {
      const seen = new Set();
      for (const event of events ?? []) {
        seen.add(JSON.stringify(event));
        show(event);
      }
      for (const { event, raw } of pending) if (!seen.has(raw)) show(event);
    })
    .catch(() => {
      for (const { event } of pending) show(event);
    })
    .finally(() => {
      pending = null;
    });
  return stream;
}
