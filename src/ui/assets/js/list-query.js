// What the list asks the server for, and the list's first request, started early: index.html
// loads this module on its own (async), so the first page of states is on its way while the rest
// of the page's modules are still loading.
import { api } from './api.js';

export const PAGE_SIZES = [25, 50, 100, 200];

/**
 * @typedef {{ q: string, sort: string, order: 'asc' | 'desc', page: number, limit: number }} ListParams
 */

/**
 * The list's parameters from the query part of the hash (`#/?q=…&sort=…`).
 * @param {URLSearchParams} search
 * @returns {ListParams}
 */
export function listParams(search) {
  const limit = Number(search.get('limit'));
  return {
    q: search.get('q') ?? '',
    sort: search.get('sort') ?? 'lastModified',
    order: search.get('order') === 'asc' ? 'asc' : 'desc',
    page: Math.max(1, Math.floor(Number(search.get('page')) || 1)),
    limit: PAGE_SIZES.includes(limit) ? limit : 50,
  };
}

/** @param {ListParams} params */
export function hashFor(params) {
  const search = new URLSearchParams();
  if (params.q) search.set('q', params.q);
  if (params.sort !== 'lastModified') search.set('sort', params.sort);
  if (params.order !== 'desc') search.set('order', params.order);
  if (params.page > 1) search.set('page', String(params.page));
  if (params.limit !== 50) search.set('limit', String(params.limit));
  const text = search.toString();
  return `#/${text ? `?${text}` : ''}`;
}

/** @param {ListParams} params */
function pathFor(params) {
  const query = new URLSearchParams({
    q: params.q,
    sort: params.sort,
    order: params.order,
    offset: String((params.page - 1) * params.limit),
    limit: String(params.limit),
  });
  return `/api/states?${query}`;
}

/** @type {{ path: string, page: Promise<any> } | null} */
let early = null;

/**
 * One page of the list: the early request if it asked for the same page, else a new one.
 * @param {ListParams} params
 * @returns {Promise<{ total: number, offset: number, limit: number, items: any[] }>}
 */
export function fetchPage(params) {
  const path = pathFor(params);
  const taken = early;
  early = null;
  return taken?.path === path ? taken.page : api('GET', path);
}

const [route = '/', query = ''] = (location.hash.replace(/^#/, '') || '/').split('?');
if (route === '/') {
  const path = pathFor(listParams(new URLSearchParams(query)));
  early = { path, page: api('GET', path) };
  early.page.catch(() => undefined); // a failure is reported by the list, when it takes the page
}
