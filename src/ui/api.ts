/**
 * The UI's JSON API: a thin layer over the public storage API. Every route needs the token (see
 * `server.ts`); PUT, POST and DELETE need it in the `X-Plugin-State-Token` header. Ids are UUIDs in
 * any case; bodies are `application/json`. Errors are `{ error: { code, message, issues? } }`.
 *
 * GET    /api/info                                  { storage, history, names }
 * GET    /api/states?q=&sort=&order=&offset=&limit= { total, offset, limit, items: StateSummary[] }
 *          q: substring of id or plugin name; sort: pluginId | name | size | version | revision |
 *          lastModified (default); order: asc | desc (default); limit 1..500 (default 50)
 * GET    /api/states/:id                            StateRecord, or 404 { error, name, deletedRevision }
 *          (`deletedRevision`: the last revision history keeps of a deleted state, else null)
 * PUT    /api/states/:id  { data, version?, expectedRevision }
 *          compare-and-set save (expectedRevision 0: only if nothing is stored); version defaults
 *          to the stored one. 200 StateRecord; 409 { error, current: StateRecord | null }
 * DELETE /api/states/:id?expectedRevision=N         { deleted: true, revision }
 *          409 { error, current } when the stored revision is not N (checked just before the
 *          delete, not atomically: storages have no conditional delete). History is kept, so
 *          restoring `revision` undoes it.
 * GET    /api/states/:id/revisions                  { revisions: RevisionInfo[] } (newest first)
 * GET    /api/states/:id/revisions/:rev             StateRecord of that revision (404 if not kept)
 * POST   /api/states/:id/revisions/:rev/restore { expectedRevision }
 *          saves that revision again as a new one (0 undoes a delete). 200 StateRecord; 409 as PUT
 * GET    /api/export                                every current state as one JSON document, the
 *          format `plugin-state export` writes and `plugin-state import` reads (an attachment):
 *          { format: "plugin-state-export", formatVersion: 1, exportedAt, states: [{ pluginId,
 *          version, revision, lastModified, data }] }, one state per line
 * GET    /api/backup?history=1                      the `backup()` NDJSON archive (an attachment)
 *
 * StateRecord: { pluginId, name, version, revision, lastModified, size, data }.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  ConflictError,
  isPluginId,
  type JsonValue,
  type PluginState,
  type PluginStateStorage,
} from '../index.js';
import { backupStates, exportStates } from './downloads.js';
import { HttpError, readJson, sendJson } from './http.js';
import { type ListQuery, SORT_KEYS, type SortKey, type StateIndex } from './state-index.js';

export interface ApiContext {
  storage: PluginStateStorage;
  index: StateIndex;
}

const NOT_FOUND = (what: string) => new HttpError(404, 'NOT_FOUND', `${what} is not stored.`);

/** Answers one `/api/…` request; throws `HttpError` or the library's errors for the caller to map. */
export async function handleApi(
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
  context: ApiContext,
): Promise<void> {
  const parts = url.pathname.split('/').slice(2); // '', 'api', …
  const method = request.method ?? 'GET';
  const [resource, rawId, sub, rawRevision, action] = parts;
  const route = (expected: string, length: number) => method === expected && parts.length === length;

  if (resource === 'info' && route('GET', 1)) return info(response, context);
  if (resource === 'export' && route('GET', 1)) return exportStates(response, context.storage);
  if (resource === 'backup' && route('GET', 1)) {
    return backupStates(response, context.storage, url.searchParams.get('history') === '1');
  }
  if (resource !== 'states') throw NOT_FOUND(`${method} ${url.pathname}`);
  if (route('GET', 1)) return sendJson(response, 200, await context.index.page(listQuery(url)));

  const id = pluginId(rawId);
  if (parts.length === 2) {
    if (method === 'GET') return getState(response, id, context);
    if (method === 'PUT') return putState(request, response, id, context);
    if (method === 'DELETE') return deleteState(response, url, id, context);
  } else if (sub === 'revisions') {
    if (route('GET', 3)) return sendJson(response, 200, { revisions: await revisions(id, context) });
    const revision = revisionNumber(rawRevision);
    if (route('GET', 4)) return getRevision(response, id, revision, context);
    if (action === 'restore' && route('POST', 5)) {
      return restoreRevision(request, response, id, revision, context);
    }
  }
  throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${method} ${url.pathname} is not a route of this API.`);
}

function info(response: ServerResponse, { storage }: ApiContext): void {
  sendJson(response, 200, {
    storage: storage.constructor.name,
    history: typeof storage.listRevisions === 'function',
  });
}

function listQuery(url: URL): ListQuery {
  const get = (name: string) => url.searchParams.get(name) ?? undefined;
  const sort = get('sort') ?? 'lastModified';
  if (!(SORT_KEYS as readonly string[]).includes(sort)) {
    throw new HttpError(400, 'BAD_QUERY', `sort must be one of ${SORT_KEYS.join(', ')}.`);
  }
  const order = get('order') ?? 'desc';
  if (order !== 'asc' && order !== 'desc')
    throw new HttpError(400, 'BAD_QUERY', 'order must be asc or desc.');
  return {
    q: (get('q') ?? '').slice(0, 200),
    sort: sort as SortKey,
    order,
    offset: integer(get('offset') ?? '0', 'offset', 0, Number.MAX_SAFE_INTEGER),
    limit: integer(get('limit') ?? '50', 'limit', 1, 500),
  };
}

function integer(text: string, name: string, min: number, max: number): number {
  const value = /^\d{1,16}$/.test(text) ? Number(text) : Number.NaN;
  if (!(value >= min && value <= max)) {
    throw new HttpError(400, 'BAD_QUERY', `${name} must be a whole number from ${min} to ${max}.`);
  }
  return value;
}

function pluginId(raw: string | undefined): string {
  if (!isPluginId(raw)) throw new HttpError(400, 'VALIDATION', 'The plugin id in the URL is not a UUID.');
  return raw.toLowerCase();
}

function revisionNumber(raw: string | undefined): number {
  return integer(raw ?? '', 'the revision', 1, Number.MAX_SAFE_INTEGER);
}

function record(state: PluginState, context: ApiContext) {
  return { ...context.index.summarize(state), data: state.data };
}

async function getState(response: ServerResponse, id: string, context: ApiContext): Promise<void> {
  const state = await context.storage.loadState(id);
  if (state) return sendJson(response, 200, record(state, context));
  const kept = await revisions(id, context);
  throw new HttpError(404, 'NOT_FOUND', `No state is stored for ${id}.`, {
    name: context.index.nameOf(id),
    deletedRevision: kept[0]?.revision ?? null,
  });
}

/** The body of a write: `expectedRevision` is required, so the UI never overwrites blindly. */
function expectedRevision(body: unknown): number {
  const value = (body as { expectedRevision?: unknown } | null)?.expectedRevision;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new HttpError(
      400,
      'VALIDATION',
      'expectedRevision (a whole number, 0 for "nothing stored") is required.',
    );
  }
  return value;
}

/** Runs a compare-and-set write; a conflict answers 409 with the state stored now. */
async function casWrite(
  response: ServerResponse,
  id: string,
  context: ApiContext,
  write: () => Promise<PluginState>,
): Promise<void> {
  try {
    sendJson(response, 200, record(await write(), context));
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    const current = await context.storage.loadState(id);
    sendJson(response, 409, {
      error: { code: error.code, message: error.message, storedRevision: error.storedRevision },
      current: current ? record(current, context) : null,
    });
  }
}

async function putState(
  request: IncomingMessage,
  response: ServerResponse,
  id: string,
  context: ApiContext,
): Promise<void> {
  const body = await readJson(request);
  const expected = expectedRevision(body);
  const { data, version } = body as { data?: JsonValue; version?: unknown };
  if (data === undefined) throw new HttpError(400, 'VALIDATION', 'data is required.');
  if (
    version !== undefined &&
    (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1)
  ) {
    throw new HttpError(400, 'VALIDATION', 'version must be a whole number of at least 1.');
  }
  await casWrite(response, id, context, async () => {
    const stored = version === undefined ? await context.storage.loadState(id) : undefined;
    const state = { pluginId: id, data, lastModified: new Date(), version: version ?? stored?.version ?? 1 };
    return context.storage.saveState(state, { expectedRevision: expected });
  });
}

async function deleteState(
  response: ServerResponse,
  url: URL,
  id: string,
  context: ApiContext,
): Promise<void> {
  const expected = integer(
    url.searchParams.get('expectedRevision') ?? '',
    'expectedRevision',
    1,
    Number.MAX_SAFE_INTEGER,
  );
  const current = await context.storage.loadState(id);
  if (!current) throw NOT_FOUND(`State ${id}`);
  if (current.revision !== expected) {
    return sendJson(response, 409, {
      error: {
        code: 'CONFLICT',
        message: `State ${id} is at revision ${current.revision}, not ${expected}: it changed since you looked. Nothing was deleted.`,
        storedRevision: current.revision,
      },
      current: record(current, context),
    });
  }
  await context.storage.deleteState(id);
  sendJson(response, 200, { deleted: true, revision: expected });
}

async function revisions(id: string, { storage }: ApiContext) {
  if (!storage.listRevisions) return [];
  return (await storage.listRevisions(id)).map((info) => ({
    ...info,
    lastModified: info.lastModified.toISOString(),
  }));
}

async function getRevision(
  response: ServerResponse,
  id: string,
  revision: number,
  context: ApiContext,
): Promise<void> {
  const state = await context.storage.loadRevision?.(id, revision);
  if (!state) throw NOT_FOUND(`Revision ${revision} of ${id}`);
  sendJson(response, 200, record(state, context));
}

async function restoreRevision(
  request: IncomingMessage,
  response: ServerResponse,
  id: string,
  revision: number,
  context: ApiContext,
): Promise<void> {
  const { storage } = context;
  if (!storage.restoreRevision) throw new HttpError(501, 'NO_HISTORY', 'This storage keeps no history.');
  const expected = expectedRevision(await readJson(request));
  await casWrite(response, id, context, () =>
    storage.restoreRevision!(id, revision, { expectedRevision: expected }),
  );
}
