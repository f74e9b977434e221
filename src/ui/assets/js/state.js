// One state: its facts, the data as a collapsible tree or raw JSON, and delete (with undo).
import { ApiError, api, statePath } from './api.js';
import { button, confirmDialog, h, replace, toast } from './dom.js';
import { ago, bytes, dateTime, pretty } from './format.js';
import { go } from './router.js';
import { jsonTree } from './tree.js';

/**
 * The heading shared by the state, edit and history screens.
 * @param {string} id
 * @param {any} state the record, or null when nothing is stored
 * @param {'view' | 'edit' | 'history'} active
 * @param {string | null} [knownName] the plugin's name when no state is stored
 */
export function stateHeader(id, state, active, knownName = null) {
  const name = state?.name ?? knownName;
  const tab = (/** @type {string} */ key, /** @type {string} */ label, /** @type {string} */ href) =>
    h(
      'a',
      {
        href,
        class: key === active ? 'tab active' : 'tab',
        'aria-current': key === active ? 'page' : undefined,
      },
      label,
    );
  return h(
    'div',
    { class: 'state-head' },
    h('a', { href: '#/', class: 'back' }, '← All states'),
    h(
      'h1',
      { class: 'state-title' },
      name ? h('span', {}, name, ' ') : null,
      h('span', { class: 'mono id-title' }, id),
    ),
    state
      ? h(
          'dl',
          { class: 'facts' },
          fact('Revision', String(state.revision)),
          fact('Version', String(state.version)),
          fact('Size', bytes(state.size)),
          fact(
            'Last modified',
            h(
              'span',
              { title: dateTime(state.lastModified) },
              `${dateTime(state.lastModified)} (${ago(state.lastModified)})`,
            ),
          ),
        )
      : null,
    h(
      'nav',
      { class: 'tabs' },
      state ? tab('view', 'Data', `#/state/${id}`) : null,
      state ? tab('edit', 'Edit', `#/state/${id}/edit`) : null,
      tab('history', 'History', `#/state/${id}/history`),
    ),
  );
}

/**
 * @param {string} label
 * @param {import('./dom.js').Child} value
 */
function fact(label, value) {
  return h('div', {}, h('dt', { text: label }), h('dd', {}, value));
}

/**
 * Loads a state; null when nothing is stored (with the revision a deleted state left in history).
 * @param {string} id
 * @returns {Promise<{ state: any, name: string | null, deletedRevision: number | null }>}
 */
export async function loadState(id) {
  try {
    const state = await api('GET', statePath(id));
    return { state, name: state.name, deletedRevision: null };
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      return {
        state: null,
        name: error.body?.name ?? null,
        deletedRevision: error.body?.deletedRevision ?? null,
      };
    }
    throw error;
  }
}

/**
 * Undoes a delete: restores the revision history kept, only if nothing was stored since.
 * @param {string} id
 * @param {number} revision
 */
export async function undoDelete(id, revision) {
  try {
    const restored = await api('POST', `${statePath(id)}/revisions/${revision}/restore`, {
      expectedRevision: 0,
    });
    toast(`Restored: revision ${revision} is back as revision ${restored.revision}.`);
    go(`#/state/${id}`);
  } catch (error) {
    toast(/** @type {Error} */ (error).message, { kind: 'error', ms: 12000 });
  }
}

/**
 * The state screen.
 * @param {string} id
 * @param {'tree' | 'raw'} mode
 */
export function stateView(id, mode) {
  const element = h('section', { class: 'view state-view' }, h('p', { class: 'muted' }, 'Loading…'));
  loadState(id)
    .then(({ state, name, deletedRevision }) => {
      if (!state) {
        replace(element, stateHeader(id, null, 'view', name), missing(id, deletedRevision));
        return;
      }
      const body = h('div', { class: 'data-panel' });
      const show = (/** @type {'tree' | 'raw'} */ next) => {
        mode = next;
        treeTab.setAttribute('aria-pressed', String(next === 'tree'));
        rawTab.setAttribute('aria-pressed', String(next === 'raw'));
        replace(
          body,
          next === 'tree'
            ? jsonTree(state.data)
            : h('pre', { class: 'raw', tabindex: '0' }, pretty(state.data)),
        );
      };
      const treeTab = button('Tree', () => show('tree'), { class: 'btn seg' });
      const rawTab = button('Raw JSON', () => show('raw'), { class: 'btn seg' });
      const actions = h(
        'div',
        { class: 'actions' },
        h('div', { class: 'segmented', role: 'group', 'aria-label': 'Show as' }, treeTab, rawTab),
        h('span', { class: 'spacer' }),
        button('Copy JSON', () => {
          navigator.clipboard.writeText(pretty(state.data)).then(
            () => toast('Copied the JSON.'),
            () => toast('The browser refused the clipboard.', { kind: 'error' }),
          );
        }),
        h('a', { class: 'btn', href: `#/state/${id}/edit` }, 'Edit'),
        button('Delete…', () => remove(id, state), { class: 'btn danger' }),
      );
      replace(element, stateHeader(id, state, 'view'), actions, body);
      show(mode);
    })
    .catch((error) => replace(element, h('p', { class: 'alert error', role: 'alert' }, error.message)));
  return { element };
}

/**
 * @param {string} id
 * @param {number | null} deletedRevision
 */
function missing(id, deletedRevision) {
  if (deletedRevision === null) {
    return h(
      'p',
      { class: 'alert' },
      'No state is stored for this plugin id, and history keeps none of its revisions.',
    );
  }
  return h(
    'div',
    { class: 'alert warn', role: 'status' },
    h('p', {}, `This state is deleted. History keeps its last revision (${deletedRevision}).`),
    button(`Undo the delete (restore revision ${deletedRevision})`, () => undoDelete(id, deletedRevision), {
      class: 'btn primary',
    }),
  );
}

/**
 * Asks, then deletes with the revision shown (the server refuses if it changed meanwhile).
 * @param {string} id
 * @param {any} state
 */
async function remove(id, state) {
  const yes = await confirmDialog({
    title: 'Delete this state?',
    body: [
      h('p', {}, 'Delete the state of ', h('strong', {}, state.name ?? id), ` (revision ${state.revision})?`),
      h(
        'p',
        { class: 'muted' },
        'History keeps this revision, so you can undo the delete from the History tab until the state is purged.',
      ),
    ],
    confirm: 'Delete',
    danger: true,
  });
  if (!yes) return;
  try {
    const result = await api('DELETE', `${statePath(id)}?expectedRevision=${state.revision}`);
    go(`#/state/${id}/history`);
    toast(`Deleted the state of ${state.name ?? id}.`, {
      action: { label: 'Undo', run: () => undoDelete(id, result.revision) },
      ms: 20000,
    });
  } catch (error) {
    if (error instanceof ApiError && error.status === 409) {
      toast(`Not deleted: ${error.message}`, { kind: 'error', ms: 12000 });
      go(`#/state/${id}`);
      return;
    }
    toast(/** @type {Error} */ (error).message, { kind: 'error', ms: 12000 });
  }
}
