// The page's entry: reads the hash, shows the screen it names, and fills in the top bar. Only the
// list is loaded up front (it is the first screen, and should appear fast); the screens of one
// state load when first opened.
import { api } from './api.js';
import { h, replace } from './dom.js';
import { listView } from './list.js';
import { listParams } from './list-query.js';
import { setRenderer } from './router.js';

const main = /** @type {HTMLElement} */ (document.getElementById('main'));

/** @type {{ key: string, update?: (params: any) => void } | null} */
let current = null;

/** Screens of one state: the hash's path after the id. */
const STATE_ROUTE = /^\/state\/([0-9a-fA-F-]{36})(\/edit|\/history)?$/;

/** Counts renders, so a screen whose module arrives after the user moved on is not shown. */
let renders = 0;

async function render() {
  const mine = ++renders;
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path = '/', query = ''] = hash.split('?');
  const search = new URLSearchParams(query);
  if (path === '/') {
    const params = listParams(search);
    if (current?.key === 'list' && current.update) return current.update(params);
    return mount('list', listView(params));
  }
  const match = STATE_ROUTE.exec(path);
  if (match) {
    const id = String(match[1]).toLowerCase();
    if (match[2] === '/edit') {
      const { editView } = await import('./editor.js');
      return mine === renders && mount('edit', editView(id));
    }
    if (match[2] === '/history') {
      const { historyView } = await import('./history.js');
      return mine === renders && mount('history', historyView(id));
    }
    const { stateView } = await import('./state.js');
    return mine === renders && mount('state', stateView(id, search.get('view') === 'raw' ? 'raw' : 'tree'));
  }
  mount('missing', {
    element: h(
      'section',
      { class: 'view' },
      h('p', { class: 'alert' }, 'There is no such screen.'),
      h('a', { href: '#/' }, 'Back to all states'),
    ),
  });
}

/**
 * @param {string} key
 * @param {{ element: HTMLElement, update?: (params: any) => void }} view
 */
function mount(key, view) {
  current = { key, update: view.update };
  replace(main, view.element);
  window.scrollTo(0, 0);
}

function show() {
  render().catch((error) =>
    replace(main, h('p', { class: 'alert error', role: 'alert' }, String(error?.message ?? error))),
  );
}

setRenderer(show);
addEventListener('hashchange', show);
show();

api('GET', '/api/info')
  .then((info) => {
    const storage = document.getElementById('storage');
    if (storage) storage.textContent = `${info.storage}${info.history ? '' : ' · no history'}`;
  })
  .catch(() => undefined);
