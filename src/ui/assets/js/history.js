// A state's kept revisions: pick any two to see their diff, look at one, or restore one (saved
// again as a new revision, with compare-and-set; it also undoes a delete).
import { ApiError, api, statePath } from './api.js';
import { jsonDiff } from './diff.js';
import { button, confirmDialog, h, replace, toast } from './dom.js';
import { ago, bytes, dateTime } from './format.js';
import { go } from './router.js';
import { loadState, stateHeader, undoDelete } from './state.js';
import { jsonTree } from './tree.js';

/** @param {string} id */
export function historyView(id) {
  const element = h('section', { class: 'view history-view' }, h('p', { class: 'muted' }, 'Loading…'));
  Promise.all([loadState(id), api('GET', `${statePath(id)}/revisions`)])
    .then(([{ state, name, deletedRevision }, { revisions }]) => {
      replace(
        element,
        stateHeader(id, state, 'history', name),
        history(id, state, deletedRevision, revisions),
      );
    })
    .catch((error) => replace(element, h('p', { class: 'alert error', role: 'alert' }, error.message)));
  return { element };
}

/**
 * @param {string} id
 * @param {any} state
 * @param {number | null} deletedRevision
 * @param {Array<{ revision: number, version: number, lastModified: string, size: number, current: boolean }>} revisions
 */
function history(id, state, deletedRevision, revisions) {
  if (revisions.length === 0) {
    return h(
      'p',
      { class: 'alert' },
      'No revisions of this state are kept (nothing was stored, it was purged, or the storage keeps no history).',
    );
  }
  /** @type {Map<number, Promise<any>>} */
  const records = new Map();
  const revision = (/** @type {number} */ n) => {
    let record = records.get(n);
    if (!record) {
      record = api('GET', `${statePath(id)}/revisions/${n}`);
      records.set(n, record);
    }
    return record;
  };
  // Compare the newest revision with the one before it, to start with.
  let a = revisions[1]?.revision ?? revisions[0]?.revision ?? 0;
  let b = revisions[0]?.revision ?? 0;
  const diffBox = h('div', { class: 'diff-box' });
  const viewBox = h('div', { class: 'revision-box' });

  const radio = (/** @type {'a' | 'b'} */ side, /** @type {number} */ n) =>
    h('input', {
      type: 'radio',
      name: `side-${side}`,
      value: String(n),
      checked: (side === 'a' ? a : b) === n,
      'aria-label': `Compare revision ${n} as ${side === 'a' ? 'the older side' : 'the newer side'}`,
      onchange: () => {
        if (side === 'a') a = n;
        else b = n;
        showDiff();
      },
    });

  async function showDiff() {
    if (a === b) {
      replace(
        diffBox,
        h('p', { class: 'muted' }, `Pick two different revisions to compare (both sides are revision ${a}).`),
      );
      return;
    }
    replace(diffBox, h('p', { class: 'muted' }, 'Comparing…'));
    const [older, newer] = a < b ? [a, b] : [b, a];
    try {
      const [x, y] = await Promise.all([revision(older), revision(newer)]);
      replace(
        diffBox,
        h('h2', {}, `Revision ${older} → revision ${newer}`),
        jsonDiff(x.data, y.data, { before: `revision ${older}`, after: `revision ${newer}` }),
      );
    } catch (error) {
      replace(diffBox, h('p', { class: 'alert error' }, /** @type {Error} */ (error).message));
    }
  }

  /** @param {number} n */
  async function view(n) {
    replace(viewBox, h('p', { class: 'muted' }, `Loading revision ${n}…`));
    try {
      const record = await revision(n);
      replace(
        viewBox,
        h(
          'div',
          { class: 'panel' },
          h(
            'div',
            { class: 'panel-head' },
            h('h2', {}, `Revision ${n}`),
            h('span', { class: 'spacer' }),
            button('Close', () => replace(viewBox), { class: 'btn small' }),
          ),
          jsonTree(record.data),
        ),
      );
      viewBox.scrollIntoView({ block: 'nearest' });
    } catch (error) {
      replace(viewBox, h('p', { class: 'alert error' }, /** @type {Error} */ (error).message));
    }
  }

  /** @param {number} n */
  async function restore(n) {
    const yes = await confirmDialog({
      title: `Restore revision ${n}?`,
      body: h(
        'p',
        {},
        state
          ? `Its data is saved again as a new revision (after revision ${state.revision}); history is not rewritten, so this can be undone too.`
          : 'The deleted state comes back with this revision’s data, as a new revision.',
      ),
      confirm: `Restore revision ${n}`,
    });
    if (!yes) return;
    try {
      const restored = await api('POST', `${statePath(id)}/revisions/${n}/restore`, {
        expectedRevision: state?.revision ?? 0,
      });
      toast(`Restored revision ${n} as revision ${restored.revision}.`);
      go(`#/state/${id}`);
    } catch (error) {
      const message =
        error instanceof ApiError && error.status === 409
          ? `Not restored: the state changed since this page loaded (${error.message}). The history is reloaded.`
          : /** @type {Error} */ (error).message;
      toast(message, { kind: 'error', ms: 12000 });
      if (error instanceof ApiError && error.status === 409) go(`#/state/${id}/history`);
    }
  }

  const rows = revisions.map((info) =>
    h(
      'tr',
      { dataset: { revision: String(info.revision) }, class: info.current ? 'current' : '' },
      h('td', { class: 'pick' }, radio('a', info.revision)),
      h('td', { class: 'pick' }, radio('b', info.revision)),
      h(
        'td',
        { class: 'num' },
        String(info.revision),
        info.current && h('span', { class: 'badge' }, 'current'),
      ),
      h('td', { class: 'num' }, String(info.version)),
      h(
        'td',
        { title: dateTime(info.lastModified) },
        `${dateTime(info.lastModified)} · ${ago(info.lastModified)}`,
      ),
      h('td', { class: 'num' }, bytes(info.size)),
      h(
        'td',
        { class: 'row-actions' },
        h(
          'div',
          {},
          button('View', () => view(info.revision), { class: 'btn small' }),
          !info.current &&
            button('Restore…', () => restore(info.revision), {
              class: 'btn small',
              'data-restore': String(info.revision),
            }),
        ),
      ),
    ),
  );
  showDiff();
  return h(
    'div',
    { class: 'history' },
    !state &&
      deletedRevision !== null &&
      h(
        'div',
        { class: 'alert warn', role: 'status' },
        h(
          'p',
          {},
          `This state is deleted. Its last revision (${deletedRevision}) is kept: restore it to undo the delete.`,
        ),
        button(
          `Undo the delete (restore revision ${deletedRevision})`,
          () => undoDelete(id, deletedRevision),
          { class: 'btn primary', 'data-undo': '' },
        ),
      ),
    h(
      'p',
      { class: 'muted' },
      'Pick an older (A) and a newer (B) revision to compare. Restoring saves a kept revision again as a new one.',
    ),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'revisions' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['A', 'B', 'Revision', 'Version', 'Saved', 'Size', ''].map((label, i) =>
              h('th', { class: i === 2 || i === 3 || i === 5 ? 'num' : '' }, label),
            ),
          ),
        ),
        h('tbody', {}, rows),
      ),
    ),
    viewBox,
    diffBox,
  );
}
