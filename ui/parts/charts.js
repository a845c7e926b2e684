/**
 * Traffic and blocks over time from /api/series (one point a second), drawn with uPlot:
 * messages and blocked messages per second, and blocks per second by guard.
 */
import uPlot from '/ui/vendor/uplot.esm.js';
import { getJson } from '../lib/api.js';

const PALETTE = ['#1c7ed6', '#d9480f', '#2f9e44', '#ae3ec9', '#f08c00', '#0ca678', '#e64980', '#5c7cfa', '#868e96'];

function sizeOf(container) {
  const width = Math.max(260, container.clientWidth);
  return { width, height: width < 500 ? 180 : 220 };
}

function options(container, series) {
  return {
    ...sizeOf(container),
    scales: { x: { time: true } },
    axes: [{}, { size: 50 }],
    legend: { live: true },
    series: [{}, ...series],
  };
}

const line = (label, index) => ({
  label,
  stroke: PALETTE[index % PALETTE.length],
  width: 1.5,
  points: { show: false },
  value: (_u, v) => (v === null || v === undefined ? '--' : String(v)),
});

/** One chart whose series may change (a guard blocks for the first time): rebuilt then. */
class Chart {
  constructor(container) {
    this.container = container;
    this.plot = null;
    this.labels = '';
  }

  draw(labels, data) {
    const key = labels.join('\n');
    if (this.plot === null || key !== this.labels) {
      this.plot?.destroy();
      this.labels = key;
      this.plot = new uPlot(
        options(
          this.container,
          labels.map((l, i) => line(l, i)),
        ),
        data,
        this.container,
      );
    } else {
      this.plot.setData(data);
    }
  }

  resize() {
    this.plot?.setSize(sizeOf(this.container));
  }
}

/** Columns for uPlot from the API's points: x in seconds, then one array per series. */
export function columns(points) {
  const guards = [...new Set(points.flatMap((p) => Object.keys(p.blocked ?? {})))].sort();
  const t = points.map((p) => p.t / 1000);
  const messages = points.map((p) => p.messages ?? 0);
  const blocked = points.map((p) => Object.values(p.blocked ?? {}).reduce((a, b) => a + b, 0));
  const byGuard = guards.map((g) => points.map((p) => p.blocked?.[g] ?? 0));
  return { guards, traffic: [t, messages, blocked], guardData: [t, ...byGuard] };
}

export function startCharts({ traffic, guards }) {
  const trafficChart = new Chart(traffic);
  const guardChart = new Chart(guards);
  let resizeTimer = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      trafficChart.resize();
      guardChart.resize();
    }, 150);
  });
  return async function refresh() {
    const { points } = await getJson('/api/series?minutes=15');
    const c = columns(Array.isArray(points) ? points : []);
    trafficChart.draw(['messages/s', 'blocked/s'], c.traffic);
    guardChart.draw(
      c.guards.length > 0 ? c.guards : ['no blocks yet'],
      c.guards.length > 0 ? c.guardData : [c.traffic[0], c.traffic[0].map(() => 0)],
    );
    traffic.dataset.points = String(points?.length ?? 0);
    traffic.dataset.blocked = String(c.traffic[2].reduce((a, b) => a + b, 0));
    guards.dataset.guards = c.guards.join(' ');
  };
}
