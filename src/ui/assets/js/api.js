// The page's only way to the server: fetch with the access token in its header (changes are
// refused without it), JSON in and out.

const meta = /** @type {HTMLMetaElement | null} */ (
  document.querySelector('meta[name="plugin-state-token"]')
);
const token = meta?.content ?? '';

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {any} body
   */
  constructor(status, body) {
    super(body?.error?.message ?? `The server answered ${status}.`);
    this.status = status;
    this.code = body?.error?.code ?? 'HTTP';
    this.body = body;
  }
}

/**
 * Calls the JSON API; resolves with the parsed body of a 2xx answer, rejects with an ApiError.
 * @param {'GET' | 'PUT' | 'POST' | 'DELETE'} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
export async function api(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = { 'X-Plugin-State-Token': token, Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    cache: 'no-store',
  });
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = { error: { code: 'HTTP', message: text.slice(0, 200) } };
  }
  if (!response.ok) {
    if (response.status === 401) {
      parsed = {
        error: {
          code: 'UNAUTHORIZED',
          message: 'The access token was refused: open the URL the server printed (it ends in ?token=…).',
        },
      };
    }
    throw new ApiError(response.status, parsed);
  }
  return parsed;
}

/** @param {string} id */
export const statePath = (id) => `/api/states/${encodeURIComponent(id)}`;
