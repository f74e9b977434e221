import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ValidationError } from '../core/errors.js';
import type { PluginStateStorage, StorageOptions } from '../core/storage.js';
import { FileSystemStateStorage } from './file-system/index.js';
import { MemoryStateStorage } from './memory.js';

const SUPPORTED =
  '"memory:", "file:<folder>", "sqlite:<file>", "postgres://user@host:port/database" (or "postgresql://")';

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
    case 'memory':
      if (rest !== '') throw invalid(url, '"memory:" takes nothing after the colon');
      return new MemoryStateStorage(options);
    case 'file':
      return new FileSystemStateStorage(localPath(url, rest), options);
    case 'sqlite': {
      const { SqliteStateStorage } = await import('./sqlite/index.js');
      return new SqliteStateStorage(rest === ':memory:' ? rest : localPath(url, rest), options);
    }
    case 'postgres':
    case 'postgresql': {
      const { connectionString, schema, table } = postgresTarget(url);
      const { PostgresStateStorage } = await import('./postgres/index.js');
      return new PostgresStateStorage(connectionString, {
        ...options,
        ...(schema ? { schema } : {}),
        ...(table ? { table } : {}),
      });
    }
    default:
      throw invalid(url, scheme ? `the scheme "${scheme}:" is not supported` : 'it has no scheme');
  }
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

function postgresTarget(url: string): { connectionString: string; schema?: string; table?: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid(url, 'it is not a valid URL');
  }
  const schema = parsed.searchParams.get('schema') ?? undefined;
  const table = parsed.searchParams.get('table') ?? undefined;
  parsed.searchParams.delete('schema');
  parsed.searchParams.delete('table');
  return { connectionString: parsed.toString(), ...(schema ? { schema } : {}), ...(table ? { table } : {}) };
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
