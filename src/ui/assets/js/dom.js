// Building DOM nodes without HTML strings: every piece of text becomes a Text node (or textContent),
// so nothing from a state is ever parsed as markup. The page's CSP (Trusted Types with no policy)
// makes every HTML-parsing sink throw, should anyone try.

/**
 * @typedef {Node | string | number | null | undefined | false | unknown[]} Child  (arrays hold more children)
 * @typedef {Record<string, unknown>} Props
 */

/**
 * Creates an element. `props`: `class`, `text` (textContent), `on<event>` handlers, `dataset`,
 * booleans (`disabled`, `checked`, …) and any other attribute as a string.
 * @param {string} tag
 * @param {Props} [props]
 * @param {...Child} children
 * @returns {HTMLElement}
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') element.className = String(value);
    else if (key === 'text') element.textContent = String(value);
    else if (key === 'dataset') Object.assign(element.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') {
      element.addEventListener(key.slice(2), /** @type {EventListener} */ (value));
    } else if (value === true) element.setAttribute(key, '');
    else element.setAttribute(key, String(value));
  }
  append(element, children);
  return element;
}

/**
 * @param {Node} parent
 * @param {Child[]} children
 */
export function append(parent, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, /** @type {Child[]} */ (child));
    else parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/**
 * Replaces everything inside `parent`.
 * @param {Element} parent
 * @param {...Child} children
 */
export function replace(parent, ...children) {
  parent.replaceChildren();
  append(parent, children);
}

/**
 * A button.
 * @param {string} label
 * @param {(event: MouseEvent) => void} onclick
 * @param {Props} [props]
 */
export function button(label, onclick, props = {}) {
  return h('button', { type: 'button', class: 'btn', ...props, onclick }, label);
}

/** @type {HTMLElement | null} */
let toastBox = null;

/**
 * Shows a short message at the bottom of the page, with an optional action (such as Undo).
 * @param {string} message
 * @param {{ kind?: 'ok' | 'error', action?: { label: string, run: () => void }, ms?: number }} [options]
 */
export function toast(message, options = {}) {
  toastBox ??= document.getElementById('toasts');
  if (!toastBox) return;
  const item = h(
    'div',
    { class: `toast ${options.kind ?? 'ok'}`, role: 'status' },
    h('span', { text: message }),
  );
  const remove = () => item.remove();
  if (options.action) {
    const { label, run } = options.action;
    item.append(
      button(
        label,
        () => {
          remove();
          run();
        },
        { class: 'btn small' },
      ),
    );
  }
  item.append(button('×', remove, { class: 'btn small ghost', 'aria-label': 'Dismiss' }));
  toastBox.append(item);
  setTimeout(remove, options.ms ?? 8000);
}

/**
 * Asks a yes/no question in a modal dialog.
 * @param {{ title: string, body: Child, confirm: string, danger?: boolean }} question
 * @returns {Promise<boolean>}
 */
export function confirmDialog({ title, body, confirm, danger = false }) {
  const dialog = /** @type {HTMLDialogElement} */ (document.getElementById('confirm'));
  return new Promise((resolve) => {
    const ok = button(confirm, () => dialog.close('ok'), {
      class: `btn ${danger ? 'danger' : 'primary'}`,
      'data-confirm': '',
    });
    const cancel = button('Cancel', () => dialog.close('cancel'));
    replace(
      dialog,
      h('h2', { text: title }),
      h('div', { class: 'dialog-body' }, body),
      h('div', { class: 'dialog-actions' }, cancel, ok),
    );
    dialog.returnValue = '';
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.showModal();
    cancel.focus();
  });
}
