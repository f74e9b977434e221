// A line diff (Myers' O(ND) algorithm) of two pretty-printed JSON values, shown as unified hunks
// with three lines of context. The common head and tail are cut off first, so a small change in
// a large state costs little.
import { h } from './dom.js';

/** @typedef {{ op: ' ' | '+' | '-', text: string, a: number | null, b: number | null }} Line */

/** Beyond this many differing lines the two sides are shown as one removal and one addition. */
const MAX_EDITS = 2000;

/**
 * @param {string[]} a
 * @param {string[]} b
 * @returns {Line[]}
 */
export function diffLines(a, b) {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (
    tail < a.length - head &&
    tail < b.length - head &&
    a[a.length - 1 - tail] === b[b.length - 1 - tail]
  )
    tail++;
  const midA = a.slice(head, a.length - tail);
  const midB = b.slice(head, b.length - tail);
  /** @type {Line[]} */
  const lines = [];
  for (let i = 0; i < head; i++) lines.push({ op: ' ', text: a[i] ?? '', a: i + 1, b: i + 1 });
  for (const [op, i, j] of myers(midA, midB)) {
    if (op === ' ') lines.push({ op, text: midA[i] ?? '', a: head + i + 1, b: head + j + 1 });
    else if (op === '-') lines.push({ op, text: midA[i] ?? '', a: head + i + 1, b: null });
    else lines.push({ op, text: midB[j] ?? '', a: null, b: head + j + 1 });
  }
  for (let k = tail; k > 0; k--) {
    lines.push({ op: ' ', text: a[a.length - k] ?? '', a: a.length - k + 1, b: b.length - k + 1 });
  }
  return lines;
}

/**
 * The shortest edit script from `a` to `b`, as [op, index in a, index in b] steps.
 * @param {string[]} a
 * @param {string[]} b
 * @returns {Array<[' ' | '+' | '-', number, number]>}
 */
function myers(a, b) {
  const n = a.length;
  const m = b.length;
  const max = n + m;
  /** @type {Array<[' ' | '+' | '-', number, number]>} */
  const out = [];
  if (max === 0) return out;
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  /** @type {Int32Array[]} */
  const trace = [];
  let found = -1;
  for (let d = 0; d <= Math.min(max, MAX_EDITS); d++) {
    // The part of v that step d reads: diagonals -d..d (memory O(D²), not O(D·(N+M))).
    trace.push(v.slice(offset - d, offset + d + 1));
    for (let k = -d; k <= d; k += 2) {
      let x =
        k === -d || (k !== d && (v[offset + k - 1] ?? 0) < (v[offset + k + 1] ?? 0))
          ? (v[offset + k + 1] ?? 0)
          : (v[offset + k - 1] ?? 0) + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
    if (found >= 0) break;
  }
  if (found < 0) {
    // Too different: everything from a goes, everything from b comes.
    for (let i = 0; i < n; i++) out.push(['-', i, 0]);
    for (let j = 0; j < m; j++) out.push(['+', 0, j]);
    return out;
  }
  let x = n;
  let y = m;
  for (let d = found; d > 0; d--) {
    const before = /** @type {Int32Array} */ (trace[d]);
    const at = (/** @type {number} */ k) => before[k + d] ?? 0;
    const k = x - y;
    const down = k === -d || (k !== d && at(k - 1) < at(k + 1));
    const prevK = down ? k + 1 : k - 1;
    const prevX = at(prevK);
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      x--;
      y--;
      out.push([' ', x, y]);
    }
    if (down) out.push(['+', x, --y]);
    else out.push(['-', --x, y]);
  }
  while (x > 0 && y > 0) {
    x--;
    y--;
    out.push([' ', x, y]);
  }
  return out.reverse();
}

/**
 * Renders the diff of two JSON values (labelled), or a note that they are equal.
 * @param {unknown} before
 * @param {unknown} after
 * @param {{ before: string, after: string }} labels
 * @returns {HTMLElement}
 */
export function jsonDiff(before, after, labels) {
  const a = JSON.stringify(before, null, 2).split('\n');
  const b = JSON.stringify(after, null, 2).split('\n');
  const lines = diffLines(a, b);
  const added = lines.filter((line) => line.op === '+').length;
  const removed = lines.filter((line) => line.op === '-').length;
  const header = h(
    'div',
    { class: 'diff-head' },
    h('span', { class: 'del-label' }, `− ${labels.before}`),
    h('span', { class: 'add-label' }, `+ ${labels.after}`),
    h(
      'span',
      { class: 'diff-stat' },
      h('span', { class: 'plus' }, `+${added}`),
      ' ',
      h('span', { class: 'minus' }, `−${removed}`),
    ),
  );
  if (added === 0 && removed === 0) {
    return h(
      'div',
      { class: 'diff' },
      header,
      h('p', { class: 'diff-equal' }, 'The two revisions hold the same data.'),
    );
  }
  const table = h('table', { class: 'diff-lines' });
  const body = h('tbody');
  table.append(body);
  const context = 3;
  const keep = lines.map(
    (line, i) =>
      line.op !== ' ' || lines.slice(Math.max(0, i - context), i + context + 1).some((l) => l.op !== ' '),
  );
  for (let i = 0; i < lines.length; i++) {
    if (!keep[i]) {
      let j = i;
      while (j < lines.length && !keep[j]) j++;
      body.append(
        h(
          'tr',
          { class: 'gap' },
          h('td', { colspan: '4' }, `⋯ ${j - i} unchanged line${j - i === 1 ? '' : 's'}`),
        ),
      );
      i = j - 1;
      continue;
    }
    const line = /** @type {Line} */ (lines[i]);
    const kind = line.op === '+' ? 'add' : line.op === '-' ? 'del' : 'same';
    body.append(
      h(
        'tr',
        { class: kind },
        h('td', { class: 'ln' }, line.a === null ? '' : String(line.a)),
        h('td', { class: 'ln' }, line.b === null ? '' : String(line.b)),
        h('td', { class: 'op' }, line.op === ' ' ? '' : line.op === '-' ? '−' : '+'),
        h('td', { class: 'code' }, line.text),
      ),
    );
  }
  return h('div', { class: 'diff' }, header, table);
}
