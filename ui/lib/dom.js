/**
 * Builds DOM from data without ever parsing it as markup: strings become text nodes, attributes
 * are set one by one. Everything shown on the dashboard may be attacker text (User-Agents,
 * usernames, Call-IDs), so no part of the dashboard uses innerHTML.
 */

/**
 * `el('td', { class: 'num' }, 'text', childNode)`. Attribute names come from the dashboard's own
 * code, never from data; `on*` names are refused so a value can never become a handler.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.toLowerCase().startsWith('on')) throw new Error(`event attribute ${name} refused`);
    node.setAttribute(name, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

/** Appends strings (as text), numbers (as text) and nodes; skips null and undefined. */
export function append(parent, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
  return parent;
}

/** Replaces every child of `parent` with `children`. */
export function replaceChildren(parent, children) {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  return append(parent, children);
}

/** A table row of cells; each cell is text, a node, or a list of them. */
export function row(cells, attrs = {}) {
  return el(
    'tr',
    attrs,
    cells.map((c) => (c instanceof Node && c.nodeName === 'TD' ? c : el('td', {}, c))),
  );
}

/** A row that spans the table to say there is nothing to show. */
export function emptyRow(columns, text) {
  return el('tr', { class: 'empty' }, el('td', { colspan: columns }, text));
}

/**
 * A list of short strings as chips, the first `shown` visible and the rest behind a <details>
 * toggle (attack records keep up to 100 usernames).
 */
export function chips(values, shown = 6) {
  const list = Array.isArray(values) ? values : [];
  const chip = (v) => el('span', { class: 'chip' }, String(v));
  const head = list.slice(0, shown).map(chip);
  if (list.length <= shown) return el('span', { class: 'chips' }, head);
  return el(
    'span',
    { class: 'chips' },
    head,
    el('details', {}, el('summary', {}, `+${list.length - shown} more`), list.slice(shown).map(chip)),
  );
}
