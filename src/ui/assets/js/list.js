// The list of stored states: search, sort and paging happen on the server (GET /api/states), so
// the page holds one page of rows however many states there are.
import { h, replace } from './dom.js';
import { ago, bytes, count, dateTime } from './format.js';
import { fetchPage, hashFor, PAGE_SIZES } from './list-query.js';

const COLUMNS = /** @type {const} */ ([
  ['pluginId', 'Plugin id'],
  ['name', 'Plugin'],
  ['size', 'Size'],
  ['version', 'Version'],
  ['revision', 'Revision'],
  ['lastModified', 'Last modified'],
]);
const NUMERIC = new Set(['size', 'version', 'revision']);
/**
 * The list screen. `update` is called when only its parameters change, so the search box keeps
 * its focus while the rows are replaced.
 * @param {import('./list-query.js').ListParams} initial
 */
export function listView(initial) {
  let params = initial;
  let request = 0;
  const search = /** @type {HTMLInputElement} */ (
    h('input', {
      type: 'search',
      class: 'search',
      placeholder: 'Search by plugin id or name',
      'aria-label': 'Search states',
      value: params.q,
    })
  );
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let debounce;
  search.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => navigate({ ...params, q: search.value.trim(), page: 1 }), 200);
  });
  const summary = h('span', { class: 'muted list-count' });
  const limitSelect = /** @type {HTMLSelectElement} */ (
    h(
      'select',
      {
        'aria-label': 'Rows per page',
        onchange: () => navigate({ ...params, limit: Number(limitSelect.value), page: 1 }),
      },
      PAGE_SIZES.map((n) => h('option', { value: String(n), selected: n === params.limit }, `${n} per page`)),
    )
  );
  const head = h('thead');
  const body = h('tbody');
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  const status = h('div', { class: 'list-status' });
  const element = h(
    'section',
    { class: 'view list-view' },
    h(
      'div',
      { class: 'toolbar' },
      h('h1', { text: 'Plugin states' }),
      summary,
      h('span', { class: 'spacer' }),
      search,
      limitSelect,
    ),
    h('div', { class: 'table-wrap' }, h('table', { class: 'states' }, head, body)),
    status,
    pager,
  );

  /** @param {import('./list-query.js').ListParams} next */
  function navigate(next) {
    location.hash = hashFor(next);
  }

  function renderHead() {
    replace(
      head,
      h(
        'tr',
        {},
        COLUMNS.map(([key, label]) => {
          const active = params.sort === key;
          const order =
            active && params.order === 'asc'
              ? 'desc'
              : active
                ? 'asc'
                : key === 'lastModified' || NUMERIC.has(key)
                  ? 'desc'
                  : 'asc';
          return h(
            'th',
            {
              class: NUMERIC.has(key) ? 'num' : '',
              'aria-sort': active ? (params.order === 'asc' ? 'ascending' : 'descending') : 'none',
            },
            h(
              'button',
              {
                type: 'button',
                class: 'sort',
                onclick: () => navigate({ ...params, sort: key, order, page: 1 }),
              },
              label,
              h(
                'span',
                { class: 'arrow', 'aria-hidden': 'true' },
                active ? (params.order === 'asc' ? '▲' : '▼') : '',
              ),
            ),
          );
        }),
      ),
    );
  }

  async function load() {
    const mine = ++request;
    renderHead();
    element.classList.add('loading');
    try {
      const page = await fetchPage(params);
      if (mine !== request) return;
      renderRows(page);
      if (!performance.getEntriesByName('plugin-state:list-rendered').length)
        performance.mark('plugin-state:list-rendered');
    } catch (error) {
      if (mine !== request) return;
      replace(body);
      replace(status, h('p', { class: 'alert error', role: 'alert' }, /** @type {Error} */ (error).message));
    } finally {
      if (mine === request) element.classList.remove('loading');
    }
  }

  /** @param {{ total: number, offset: number, limit: number, items: any[] }} page */
  function renderRows(page) {
    const first = page.total === 0 ? 0 : page.offset + 1;
    const last = page.offset + page.items.length;
    summary.textContent = params.q
      ? `${count(page.total)} matching “${params.q}”`
      : `${count(page.total)} state${page.total === 1 ? '' : 's'}`;
    replace(
      body,
      page.items.map((row) =>
        h(
          'tr',
          {
            dataset: { id: row.pluginId },
            onclick: (/** @type {MouseEvent} */ event) => {
              if (!(/** @type {Element} */ (event.target).closest('a')))
                location.hash = `#/state/${row.pluginId}`;
            },
          },
          h('td', { class: 'mono id' }, h('a', { href: `#/state/${row.pluginId}` }, row.pluginId)),
          h('td', { class: row.name ? 'name' : 'name muted' }, row.name ?? '—'),
          h('td', { class: 'num' }, bytes(row.size)),
          h('td', { class: 'num' }, String(row.version)),
          h('td', { class: 'num' }, String(row.revision)),
          h('td', { title: dateTime(row.lastModified) }, ago(row.lastModified)),
        ),
      ),
    );
    replace(
      status,
      page.total === 0 &&
        h('p', { class: 'empty' }, params.q ? 'No state matches this search.' : 'No states are stored yet.'),
    );
    const pages = Math.max(1, Math.ceil(page.total / params.limit));
    replace(
      pager,
      h(
        'button',
        {
          type: 'button',
          class: 'btn',
          disabled: params.page <= 1,
          onclick: () => navigate({ ...params, page: params.page - 1 }),
        },
        '← Previous',
      ),
      h(
        'span',
        { class: 'muted' },
        `${count(first)}–${count(last)} of ${count(page.total)} · page ${count(params.page)} of ${count(pages)}`,
      ),
      h(
        'button',
        {
          type: 'button',
          class: 'btn',
          disabled: params.page >= pages,
          onclick: () => navigate({ ...params, page: params.page + 1 }),
        },
        'Next →',
      ),
    );
  }

  load();
  return {
    element,
    /** @param {import('./list-query.js').ListParams} next */
    update(next) {
      params = next;
      if (document.activeElement !== search) search.value = params.q;
      limitSelect.value = String(params.limit);
      load();
    },
  };
}
