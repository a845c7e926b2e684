/** The ban lengths offered by the "ban for" pickers, as the API's duration strings. */
import { el } from '../lib/dom.js';

export const BAN_DURATIONS = [
  ['10m', '10 minutes'],
  ['1h', '1 hour'],
  ['6h', '6 hours'],
  ['24h', '1 day'],
  ['168h', '1 week'],
];

/** Fills a <select> with BAN_DURATIONS, `selected` chosen. */
export function durationOptions(select, selected = '1h') {
  for (const [value, label] of BAN_DURATIONS)
    select.append(el('option', { value, selected: value === selected }, label));
  return select;
}
