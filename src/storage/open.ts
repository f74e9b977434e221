import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ValidationError } from '../core/errors.js';
import { MAX_HISTORY } from '../core/guarded-storage.js';
import type { PluginStateStorage, StorageOptions } from '../core/storage.js';
import { FileSystemStateStorage } from './file-system/index.js';
import { MemoryStateStorage } from './memory.js';

const SUPPORTED =
  '"memory:", "file:<folder>", "sqlite:<file>", "postgres://user@host:port/database" (or "postgresql://"), each may end in "?history=N"';

/**
 * Builds a storage from a URL and opens it, so that a wrong path or an unreachable server fails
 * here, with a typed error, rather than on the first save. What the CLI, the UI and configuration
 * files use. The database backends are loaded only when their URL is asked for, so a host using
 * files never loads a database driver.
 *
 * - `memory:` — states in this process only
 * - `file:./states`, `file:/var/lib/app/states`, `file:///var/lib/app/states` — one JSON file per plugin
 * - `sqlite:./states.db`, `sqlite:/abs/states.db` — one SQLite database (needs `better-sqlite3`)
 * - `postgres://user:pass@host:5432/db?schema=app&table=plugin_states` — PostgreSQL (needs `pg`);
 *   `schema` and `table` are read from the query string and not sent to the server
 *
 * Every URL takes `history=N`: how many replaced revisions of each state to keep (0 to 10,000;
 * `options.history`, which the URL's value overrides): `file:./states?history=50`, `memory:?history=0`.
 * The part of a `memory:`, `file:` or `sqlite:` URL after a `?` is read as parameters, and any other
 * parameter than `history` is refused; a PostgreSQL URL's other parameters go to the driver.
 *
 * @example
 * const storage = await openStorage(process.env.PLUGIN_STATE_URL ?? 'file:./plugin-states');
 * const manager = new PluginStateManager(storage);
 */
export async function openStorage(url: string, options: StorageOptions = {}): Promise<PluginStateStorage> {
  const storage = await createStorage(url, options);
  try {
    await storage.open?.();
  } catch (error) {
    await storage.close?.().catch(() => undefined);
    throw error;
  }
  return storage;
}

async function createStorage(url: string, options: StorageOptions): Promise<PluginStateStorage> {
  if (typeof url !== 'string' || url.trim() === '') {
    throw invalid(String(url), 'the storage URL is empty');
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  const rest = scheme ? url.slice(scheme.length + 1) : '';
  switch (scheme) {
    case 'memory': {
      const { target, history } = localParameters(url, rest);
      if (target !== '') throw invalid(url, '"memory:" takes nothing after the colon but "?history=N"');
      return new MemoryStateStorage(withHistory(options, history));
    }
    case 'file': {
      const { target, history } = localParameters(url, rest);
      return new FileSystemStateStorage(localPath(url, target), withHistory(options, history));
    }
    case 'sqlite': {
      const { target, history } = localParameters(url, rest);
      const { SqliteStateStorage } = await import('./sqlite/index.js');
      return new SqliteStateStorage(
        target === ':memory:' ? target : localPath(url, target),
        withHistory(options, history),
      );
    }
    case 'postgres':
    case 'postgresql': {
      const { connectionString, schema, table, history } = postgresTarget(url);
      const { PostgresStateStorage } = await import('./postgres/index.js');
      return new PostgresStateStorage(connectionString, {
        ...withHistory(options, history),
        ...(schema ? { schema } : {}),
        ...(table ? { table } : {}),
      });
    }
    default:
      throw invalid(url, scheme ? `the scheme "${scheme}:" is not supported` : 'it has no scheme');
  }
}

function withHistory(options: StorageOptions, history: number | undefined): StorageOptions {
  return history === undefined ? options : { ...options, history };
}

/** The place of a `memory:`, `file:` or `sqlite:` URL, and its one parameter, `history`. */
function localParameters(url: string, rest: string): { target: string; history?: number } {
  const mark = rest.indexOf('?');
  if (mark < 0) return { target: rest };
  const params = new URLSearchParams(rest.slice(mark + 1));
  for (const key of new Set(params.keys())) {
    if (key !== 'history') {
      throw invalid(
        url,
        `the parameter "${key}" is not known (the only one is "history", e.g. "?history=20")`,
      );
    }
  }
  return { target: rest.slice(0, mark), history: historyParameter(url, params) };
}

/** `history=N` from a URL's parameters: a whole number from 0 to MAX_HISTORY, given once. */
function historyParameter(url: string, params: URLSearchParams): number | undefined {
  const values = params.getAll('history');
  if (values.length === 0) return undefined;
  const value = values[0]!;
  if (values.length > 1 || !/^\d{1,6}$/.test(value) || Number(value) > MAX_HISTORY) {
    const got = values.length > 1 ? `${values.length} values` : JSON.stringify(value);
    throw invalid(
      url,
      `"history" must be given once, as a whole number of revisions from 0 to ${MAX_HISTORY} (e.g. "?history=20"), got ${got}`,
    );
  }
  return Number(value);
}

/** `./states`, `/abs/states` or `///abs/states` (a file URL) → an absolute path. */
function localPath(url: string, rest: string): string {
  if (rest.startsWith('//')) {
    try {
      return fileURLToPath(`file:${rest}`);
    } catch (error) {
      throw invalid(url, `it is not a valid file URL (${(error as Error).message})`);
    }
  }
  if (rest === '') throw invalid(url, 'it names no path after the colon');
  return isAbsolute(rest) ? rest : resolve(rest);
}

function postgresTarget(url: string): {
  connectionString: string;
  schema?: string;
  table?: string;
  history?: number;
} {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid(url, 'it is not a valid URL');
  }
  const schema = parsed.searchParams.get('schema') ?? undefined;
  const table = parsed.searchParams.get('table') ?? undefined;
  const history = historyParameter(url, parsed.searchParams);
  parsed.searchParams.delete('schema');
  parsed.searchParams.delete('table');
  parsed.searchParams.delete('history');
  return {
    connectionString: parsed.toString(),
    ...(schema ? { schema } : {}),
    ...(table ? { table } : {}),
    ...(history === undefined ? {} : { history }),
  };
}

function invalid(url: string, reason: string): ValidationError {
  // Never echo a password back into logs.
  const shown = url.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');
  return new ValidationError(
    `openStorage: cannot use the storage URL "${shown}": ${reason}. Use ${SUPPORTED}.`,
    {
      operation: 'openStorage',
      location: shown,
    },
  );
}
