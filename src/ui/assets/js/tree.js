// A collapsible JSON tree: objects and arrays are <details> elements whose children are built the
// first time they open, so a large state costs only what is shown. Every key and value is text.
import { button, h } from './dom.js';

/** Children are shown this many at a time; a "show more" button adds the next batch. */
const BATCH = 500;

/**
 * @param {unknown} value
 * @param {{ open?: number }} [options] levels open at first (default 2)
 * @returns {HTMLElement}
 */
export function jsonTree(value, options = {}) {
  const openLevels = options.open ?? 2;
  const root = h('div', { class: 'tree', role: 'tree' });
  root.append(node(null, value, 0, openLevels));
  const tools = h(
    'div',
    { class: 'tree-tools' },
    button('Expand all', () => setAll(root, true), { class: 'btn small' }),
    button('Collapse all', () => setAll(root, false), { class: 'btn small' }),
  );
  return h('div', { class: 'tree-box' }, tools, root);
}

/**
 * Builds a node's first children now (opening a <details> builds them only on its toggle event).
 * @type {WeakMap<Element, () => void>}
 */
const builders = new WeakMap();

/** Beyond this many nodes, "Expand all" stops opening deeper levels (the page would crawl). */
const EXPAND_ALL_LIMIT = 5000;

/**
 * @param {HTMLElement} root
 * @param {boolean} open
 */
function setAll(root, open) {
  if (!open) {
    for (const details of root.querySelectorAll('details')) details.open = false;
    return;
  }
  // Opening builds children, which may hold more closed <details>: repeat until none is left.
  for (;;) {
    const closed = [...root.querySelectorAll('details')].filter((d) => !d.open);
    if (closed.length === 0 || root.querySelectorAll('.leaf, details').length > EXPAND_ALL_LIMIT) break;
    for (const details of closed) {
      builders.get(details)?.();
      details.open = true;
    }
  }
}

/**
 * @param {string | number | null} key
 * @param {unknown} value
 * @param {number} depth
 * @param {number} openLevels
 * @returns {HTMLElement}
 */
function node(key, value, depth, openLevels) {
  const label =
    key === null
      ? null
      : h(
          'span',
          { class: typeof key === 'number' ? 'k idx' : 'k' },
          typeof key === 'number' ? String(key) : key,
        );
  if (value === null || typeof value !== 'object') {
    return h(
      'div',
      { class: 'leaf', role: 'treeitem' },
      label,
      label && h('span', { class: 'colon' }, ': '),
      scalar(value),
    );
  }
  const isArray = Array.isArray(value);
  const entries = isArray
    ? value.map((v, i) => /** @type {[number, unknown]} */ ([i, v]))
    : Object.entries(value);
  const summary = h(
    'summary',
    {},
    label,
    label && h('span', { class: 'colon' }, ': '),
    h('span', { class: 'brace' }, isArray ? '[' : '{'),
    h(
      'span',
      { class: 'count' },
      `${entries.length} ${isArray ? (entries.length === 1 ? 'item' : 'items') : entries.length === 1 ? 'key' : 'keys'}`,
    ),
    h('span', { class: 'brace' }, isArray ? ']' : '}'),
  );
  const details = /** @type {HTMLDetailsElement} */ (h('details', { role: 'treeitem' }, summary));
  const body = h('div', { class: 'children', role: 'group' });
  details.append(body);
  let shown = 0;
  const more = () => {
    const next = entries.slice(shown, shown + BATCH);
    for (const [k, v] of next) body.append(node(k, v, depth + 1, openLevels));
    shown += next.length;
    if (shown < entries.length) {
      const rest = entries.length - shown;
      const moreButton = button(
        `Show ${Math.min(rest, BATCH)} more of ${rest}`,
        () => {
          moreButton.remove();
          more();
        },
        { class: 'btn small' },
      );
      body.append(moreButton);
    }
  };
  const build = () => {
    if (shown === 0 && entries.length > 0) more();
  };
  builders.set(details, build);
  details.addEventListener('toggle', () => {
    if (details.open) build();
  });
  if (entries.length === 0) body.append(h('span', { class: 'muted' }, '(empty)'));
  if (depth < openLevels) {
    details.open = true;
    build();
  }
  return details;
}

/** @param {unknown} value */
function scalar(value) {
  if (typeof value === 'string') return h('span', { class: 'v str' }, JSON.stringify(value));
  if (typeof value === 'number') return h('span', { class: 'v num' }, String(value));
  if (typeof value === 'boolean') return h('span', { class: 'v bool' }, String(value));
  return h('span', { class: 'v null' }, 'null');
}
