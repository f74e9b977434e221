import { StorageError } from '../../core/errors.js';

/**
 * The part of a better-sqlite3 `Database` that {@link SqliteStateStorage} uses. A host passes its
 * own `new Database(...)`; declaring the shape here keeps `@types/better-sqlite3` out of this
 * package's public types.
 */
export interface SqliteDatabase {
  /** The file name the connection was opened with (`:memory:` for an in-memory database). */
  readonly name: string;
  readonly open: boolean;
  readonly readonly: boolean;
  readonly memory: boolean;
  readonly inTransaction: boolean;
  prepare(source: string): SqliteStatement;
  close(): unknown;
}

/** The part of a better-sqlite3 `Statement` that the store uses. */
export interface SqliteStatement {
  /** Whether the statement returns rows. */
  readonly reader: boolean;
  run(...params: unknown[]): unknown;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  raw(toggle?: boolean): SqliteStatement;
  pluck(toggle?: boolean): SqliteStatement;
}

type DatabaseConstructor = new (filename: string, options?: { timeout?: number }) => SqliteDatabase;

const INSTALL = 'install better-sqlite3@12 (npm install better-sqlite3@12.11.1)';

/**
 * Loads better-sqlite3 only when a store opens a file itself, so that importing
 * `plugin-state/sqlite` (or handing the store a `Database` of your own) never loads it.
 */
export async function loadDriver(location: string): Promise<DatabaseConstructor> {
  let loaded: { default: unknown };
  try {
    loaded = (await import('better-sqlite3')) as { default: unknown };
  } catch (error) {
    const missing = (error as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND';
    throw new StorageError(
      `open: SqliteStateStorage needs the optional peer dependency better-sqlite3, which ${
        missing ? 'is not installed' : `could not be loaded (${reasonOf(error)})`
      }. To use ${location}, ${INSTALL}.`,
      { operation: 'open', location, cause: error },
    );
  }
  return loaded.default as DatabaseConstructor;
}

/** Opens a connection; a native module built for another Node.js is named as a driver problem. */
export function connect(Driver: DatabaseConstructor, path: string, timeoutMs: number): SqliteDatabase {
  try {
    return new Driver(path, { timeout: timeoutMs });
  } catch (error) {
    const reason = reasonOf(error);
    if (/better_sqlite3\.node|NODE_MODULE_VERSION|bindings file|invalid ELF/i.test(reason)) {
      throw new StorageError(
        `open: better-sqlite3 is installed, but its native module does not load in Node.js ${process.version} (${reason}). ` +
          `Reinstall it for this Node.js: ${INSTALL}, or npm rebuild better-sqlite3.`,
        { operation: 'open', location: path, cause: error },
      );
    }
    throw error;
  }
}

/** SQLITE_BUSY and its extended codes: another connection holds a lock that this one needs. */
export function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_'));
}

/** SQLite's verdict that a file holds no database it can read. */
export function isNotADatabase(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_NOTADB';
}

export function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
