/** The bans table (/api/bans) with unban buttons, and the form that bans an address for a time. */
import { deleteJson, getJson, postJson } from '../lib/api.js';
import { el, emptyRow, replaceChildren, row } from '../lib/dom.js';
import { dateTime, relative } from '../lib/format.js';
import { durationOptions } from './durations.js';

export function startBans({ body, total, form, error, onChange }) {
  const report = (message) => {
    error.textContent = message;
    error.hidden = message === '';
  };
  const act = async (work) => {
    try {
      await work();
      report('');
    } catch (e) {
      report(String(e.message ?? e));
    }
    await onChange();
  };

  const unban = (target) => act(() => deleteJson(`/api/bans/${encodeURIComponent(target)}`));
  const ban = (target, duration, reason) =>
    act(() => postJson('/api/bans', reason ? { target, duration, reason } : { target, duration }));

  durationOptions(form.elements.duration);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const target = form.elements.target.value.trim();
    if (target === '') return;
    ban(target, form.elements.duration.value, form.elements.reason.value.trim()).then(() => {
      if (error.hidden) form.reset();
    });
  });

  async function refresh() {
    const data = await getJson('/api/bans?limit=100');
    const bans = data.bans ?? [];
    total.textContent = `${data.total ?? bans.length} active`;
    replaceChildren(
      body,
      bans.length === 0
        ? [emptyRow(5, 'No active ban.')]
        : bans.map((b) => {
            const button = el('button', { type: 'button', class: 'small', 'data-unban': b.target }, 'Unban');
            button.addEventListener('click', () => unban(b.target));
            return row(
              [
                el('code', {}, b.target),
                b.guard,
                b.reason,
                el('span', { title: dateTime(b.expires) }, relative(b.expires)),
                button,
              ],
              { 'data-ban': b.target },
            );
          }),
    );
  }
  return { refresh, ban };
}
