/** Formatting of times, durations and addresses for the dashboard. */

const pad = (n) => String(n).padStart(2, '0');

/** Local wall-clock time `HH:MM:SS` of epoch ms or an ISO string. */
export function clock(time) {
  const d = new Date(time);
  if (Number.isNaN(d.getTime())) return '';
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Local date and time `YYYY-MM-DD HH:MM:SS`. */
export function dateTime(time) {
  const d = new Date(time);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(d)}`;
}

/** `3d 4h`, `5m 12s`: a span of seconds, two units at most. */
export function span(seconds) {
  let s = Math.max(0, Math.round(Number(seconds) || 0));
  const units = [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ];
  const parts = [];
  for (const [name, size] of units) {
    if (s >= size || (name === 's' && parts.length === 0)) {
      parts.push(`${Math.floor(s / size)}${name}`);
      s %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}

/** `in 59m 10s` / `2m 3s ago` relative to now. */
export function relative(time, now = Date.now()) {
  const t = new Date(time).getTime();
  if (Number.isNaN(t)) return '';
  const seconds = (t - now) / 1000;
  return seconds >= 0 ? `in ${span(seconds)}` : `${span(-seconds)} ago`;
}

/**
 * The network a source belongs to, for the "top networks" table: an IPv4 address's /24, an
 * IPv6 address's (or /64 source's) /48.
 */
export function networkOf(address) {
  const text = String(address);
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.\d{1,3}(\/\d+)?$/.exec(text);
  if (v4) return `${v4[1]}.${v4[2]}.${v4[3]}.0/24`;
  if (!text.includes(':')) return text;
  const groups = expandIpv6(text.split('/')[0]);
  if (groups === null) return text;
  return `${groups.slice(0, 3).join(':')}::/48`;
}

function expandIpv6(address) {
  const halves = address.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return null;
  const groups = [...head, ...Array(missing).fill('0'), ...tail];
  return groups.map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? g.toLowerCase().replace(/^0+(?=.)/, '') : '?'));
}
