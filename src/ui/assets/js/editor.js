// Editing a state as JSON: checked as you type, saved with compare-and-set on the revision the edit
// started from. If someone else saved meanwhile, the server refuses (409) and this screen shows
// the newer value and how the edit differs from it; nothing is overwritten without a second,
// informed save.
import { ApiError, api, statePath } from './api.js';
import { jsonDiff } from './diff.js';
import { button, h, replace, toast } from './dom.js';
import { dateTime, pretty } from './format.js';
import { go } from './router.js';
import { loadState, stateHeader } from './state.js';
import { jsonTree } from './tree.js';

/** @param {string} id */
export function editView(id) {
  const element = h('section', { class: 'view edit-view' }, h('p', { class: 'muted' }, 'Loading…'));
  loadState(id)
    .then(({ state }) => {
      if (!state) return go(`#/state/${id}`);
      let header = stateHeader(id, state, 'edit');
      // After a conflict the heading shows the state stored now, not the one the edit started from.
      const stored = (/** @type {any} */ record) => {
        const next = stateHeader(id, record, 'edit');
        header.replaceWith(next);
        header = next;
      };
      replace(element, header, editor(id, state, stored));
    })
    .catch((error) => replace(element, h('p', { class: 'alert error', role: 'alert' }, error.message)));
  return { element };
}

/**
 * @param {string} id
 * @param {any} loaded
 * @param {(record: any) => void} onStored called with the stored record when a save conflicts
 */
function editor(id, loaded, onStored) {
  /** The record the edit is based on: its revision is the compare-and-set condition. */
  let base = loaded;
  const original = pretty(loaded.data);
  const text = /** @type {HTMLTextAreaElement} */ (
    h('textarea', {
      class: 'json-input',
      spellcheck: 'false',
      autocomplete: 'off',
      'aria-label': 'State data as JSON',
    })
  );
  text.value = original;
  text.rows = Math.min(30, Math.max(8, original.split('\n').length + 2));
  const validity = h('div', { class: 'validity', role: 'status', 'aria-live': 'polite' });
  const baseNote = h('p', { class: 'muted base-note' });
  const conflict = h('div', { class: 'conflict-box' });
  const problems = h('div', { class: 'save-problems' });
  const save = /** @type {HTMLButtonElement} */ (
    button('Save', () => submit(), { class: 'btn primary', 'data-save': '' })
  );
  const format = button('Format', () => {
    const parsed = parse();
    if (parsed.ok) text.value = pretty(parsed.value);
    check();
  });
  const cancel = h('a', { class: 'btn', href: `#/state/${id}` }, 'Cancel');

  /** @returns {{ ok: true, value: unknown } | { ok: false, message: string }} */
  function parse() {
    try {
      return { ok: true, value: JSON.parse(text.value) };
    } catch (error) {
      return { ok: false, message: /** @type {Error} */ (error).message };
    }
  }

  function check() {
    const parsed = parse();
    validity.className = parsed.ok ? 'validity ok' : 'validity bad';
    validity.textContent = parsed.ok ? '✓ Valid JSON' : `✗ Not valid JSON: ${parsed.message}`;
    save.disabled = !parsed.ok;
    return parsed;
  }

  function describeBase() {
    baseNote.textContent =
      base === null
        ? 'Saving stores your edit as a new state (only if nothing was stored meanwhile).'
        : `Editing revision ${base.revision}. Saving checks that it is still the stored revision (compare-and-set), so a change made elsewhere is never overwritten.`;
  }

  async function submit() {
    const parsed = check();
    if (!parsed.ok) return;
    save.disabled = true;
    replace(problems);
    try {
      const saved = await api('PUT', statePath(id), {
        data: parsed.value,
        version: base?.version ?? loaded.version,
        expectedRevision: base?.revision ?? 0,
      });
      toast(`Saved revision ${saved.revision}.`);
      go(`#/state/${id}`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 409 && 'current' in (error.body ?? {})) {
        showConflict(parsed.value, error.body.current);
      } else {
        const issues = /** @type {Array<{ path: string, message: string }>} */ (
          error instanceof ApiError ? (error.body?.error?.issues ?? []) : []
        );
        replace(
          problems,
          h(
            'div',
            { class: 'alert error', role: 'alert' },
            h('p', { text: `Not saved: ${/** @type {Error} */ (error).message}` }),
            issues.length > 0 &&
              h(
                'ul',
                {},
                issues.map((issue) => h('li', {}, h('code', { text: issue.path }), ` ${issue.message}`)),
              ),
          ),
        );
      }
    } finally {
      check();
    }
  }

  /**
   * @param {unknown} mine
   * @param {any} current the stored record now, or null when the state was deleted meanwhile
   */
  function showConflict(mine, current) {
    const from = base?.revision ?? 0;
    if (current) onStored(current);
    const title = h('h2', {}, 'Conflict: your edit was not saved');
    const explanation = current
      ? h(
          'p',
          {},
          `This state was changed elsewhere while you were editing. You started from revision ${from}; revision ${current.revision} is stored now (saved ${dateTime(current.lastModified)}). Nothing was overwritten.`,
        )
      : h(
          'p',
          {},
          `This state was deleted elsewhere while you were editing (you started from revision ${from}). Nothing was written.`,
        );
    const choices = h(
      'div',
      { class: 'actions' },
      button(
        current ? `Discard my edit, show revision ${current.revision}` : 'Discard my edit',
        () => go(`#/state/${id}`),
        { class: 'btn' },
      ),
      button(
        current ? `Keep my edit, based on revision ${current.revision}` : 'Keep my edit as a new state',
        () => {
          base = current;
          describeBase();
          replace(
            conflict,
            h(
              'p',
              { class: 'alert warn' },
              current
                ? `Your edit is now based on revision ${current.revision}: saving it replaces the newer value you saw.`
                : 'Saving stores your edit as a new state.',
            ),
          );
        },
        { class: 'btn primary' },
      ),
    );
    replace(
      conflict,
      h(
        'div',
        { class: 'alert conflict', role: 'alert' },
        title,
        explanation,
        current && h('h3', {}, `The newer value (revision ${current.revision})`),
        current && jsonTree(current.data, { open: 1 }),
        current && h('h3', {}, 'How your edit differs from it'),
        current &&
          jsonDiff(current.data, mine, {
            before: `revision ${current.revision} (stored)`,
            after: 'your edit',
          }),
        choices,
      ),
    );
    conflict.scrollIntoView({ block: 'start' });
  }

  text.addEventListener('input', check);
  text.addEventListener('keydown', (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === 's') {
      event.preventDefault();
      if (!save.disabled) submit();
    }
  });
  describeBase();
  check();
  return h(
    'div',
    { class: 'editor' },
    conflict,
    baseNote,
    text,
    h('div', { class: 'actions' }, validity, h('span', { class: 'spacer' }), format, cancel, save),
    problems,
  );
}
