/**
 * The dashboard: starts the live feed and refreshes every panel on a timer (while the page is
 * visible), and at once after anything that changes the bans.
 */
import { startAttacks } from './parts/attacks.js';
import { startBans } from './parts/bans.js';
import { startCharts } from './parts/charts.js';
import { startFeed } from './parts/feed.js';
import { startSources } from './parts/sources.js';
import { startStatus } from './parts/status.js';
import { startUpstreams } from './parts/upstreams.js';

const $ = (id) => document.getElementById(id);
const tbody = (id) => $(id).querySelector('tbody');

/** Runs `refresh` every `ms`, never two at once, skipped while the page is hidden. */
function every(ms, refresh) {
  let running = false;
  const run = async () => {
    if (running) return;
    running = true;
    try {
      await refresh();
    } catch (e) {
      if (e?.status !== 401) console.warn('sipwarden dashboard:', e?.message ?? e);
    } finally {
      running = false;
    }
  };
  setInterval(() => {
    if (!document.hidden) run();
  }, ms);
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) run();
  });
  run();
  return run;
}

const bans = startBans({
  body: tbody('bans'),
  total: $('bans-total'),
  form: $('ban-form'),
  error: $('bans-error'),
  onChange: () => Promise.all([refreshBans(), refreshSources()]),
});
const refreshBans = every(5000, bans.refresh);
const refreshSources = every(
  5000,
  startSources({ sourcesBody: tbody('sources'), networksBody: tbody('networks'), ban: bans.ban }),
);
every(2000, startCharts({ traffic: $('chart-traffic'), guards: $('chart-guards') }));
every(10_000, startUpstreams({ body: tbody('upstreams') }));
const refreshAttacks = every(10_000, startAttacks({ body: tbody('attacks') }));
every(30_000, startStatus({ line: $('status') }));

// Events say when a panel is stale; refreshes are batched so a flood of events costs one each.
const stale = new Set();
let flushTimer = 0;
function markStale(refresh) {
  stale.add(refresh);
  if (flushTimer === 0) {
    flushTimer = setTimeout(() => {
      flushTimer = 0;
      for (const r of stale) r();
      stale.clear();
    }, 500);
  }
}

const live = $('live');
startFeed({
  list: $('feed'),
  kindSelect: $('feed-kind'),
  pause: $('feed-pause'),
  onLive: (state) => {
    live.textContent = state === 'live' ? 'live' : 'offline';
    live.className = state === 'live' ? 'live on' : 'live off';
  },
  onEvent: (event) => {
    if (event.kind === 'block' || event.kind === 'ban') markStale(refreshSources);
    if (['ban', 'unban', 'ban-expired', 'bans-flushed'].includes(event.kind)) markStale(refreshBans);
    if (event.kind === 'honeypot') markStale(refreshAttacks);
  },
});
