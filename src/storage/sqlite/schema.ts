import { StorageError, ValidationError } from '../../core/errors.js';
import type { SqliteDatabase } from './driver.js';

/**
 * The version of the tables this library writes; a later release migrates from it.
 * 1: the state table alone. 2: beside it, `<table>_history` with the replaced revisions. A table
 * of version 1 (or one adopted without a version) is upgraded in place when a store opens it: the
 * history table is created and the version recorded, in one `BEGIN IMMEDIATE` transaction.
 */
export const SCHEMA_VERSION = 2;

/** One small table per database: `<table>.schema_version` → version, for every store table in it. */
export const META_TABLE = 'plugin_state_meta';

export const DEFAULT_TABLE = 'plugin_states';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

const COLUMNS = {
  plugin_id: 'TEXT',
  version: 'INTEGER',
  revision: 'INTEGER',
  last_modified: 'INTEGER',
  data: 'TEXT',
} as const;

const EXPECTED =
  'plugin_id TEXT PRIMARY KEY, version INTEGER NOT NULL, revision INTEGER NOT NULL, ' +
  'last_modified INTEGER NOT NULL, data TEXT NOT NULL';

const HISTORY_EXPECTED =
  'plugin_id TEXT NOT NULL, revision INTEGER NOT NULL, version INTEGER NOT NULL, ' +
  'last_modified INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (plugin_id, revision)';

/** The table beside `table` that keeps its replaced revisions. */
export function historyTable(table: string): string {
  return `${table}_history`;
}

/** Checks a table name given in the options: a plain SQL identifier, so it can be quoted safely. */
export function checkTableName(name: unknown): string {
  if (
    typeof name !== 'string' ||
    !IDENTIFIER.test(name) ||
    /^sqlite_/i.test(name) ||
    name.toLowerCase() === META_TABLE
  ) {
    throw new ValidationError(
      `SqliteStateStorage: table must be a name of 1 to 63 letters, digits and underscores, not starting with a digit ` +
        `or "sqlite_", and not "${META_TABLE}"; got ${JSON.stringify(name)}.`,
      { operation: 'configure' },
    );
  }
  return name;
}

/** The name quoted for SQL; safe because {@link checkTableName} allows no quote characters. */
export function quoted(name: string): string {
  return `"${name}"`;
}

/** What the database holds of this store's schema. */
export interface SchemaState {
  table: boolean;
  history: boolean;
  meta: boolean;
  /** The recorded schema version of the table, if any. */
  version: number | undefined;
}

/**
 * Reads what is there without writing anything: a table of the wrong shape, or tables of a newer
 * release of the library, are refused here, before the store changes so much as the journal mode.
 */
export function inspectSchema(db: SqliteDatabase, table: string, location: string): SchemaState {
  const history = historyTable(table);
  const objects = db
    .prepare(
      'SELECT lower(name), type FROM sqlite_master WHERE lower(name) IN (lower(?), lower(?), lower(?))',
    )
    .raw()
    .all(table, history, META_TABLE) as [string, string][];
  const typeOf = (name: string) => objects.find(([found]) => found === name.toLowerCase())?.[1];

  const metaType = typeOf(META_TABLE);
  if (metaType !== undefined) {
    const problems = shapeProblems(db, META_TABLE, metaType, { key: 'TEXT', value: 'TEXT' }, ['key']);
    if (problems.length > 0)
      throw wrongShape(META_TABLE, location, problems, 'key TEXT PRIMARY KEY, value TEXT');
  }
  const tableType = typeOf(table);
  if (tableType !== undefined) {
    const problems = shapeProblems(db, table, tableType, COLUMNS, ['plugin_id']);
    if (problems.length > 0) throw wrongShape(table, location, problems, EXPECTED);
  }
  const historyType = typeOf(history);
  if (historyType !== undefined) {
    const problems = shapeProblems(db, history, historyType, COLUMNS, ['plugin_id', 'revision']);
    if (problems.length > 0) throw wrongShape(history, location, problems, HISTORY_EXPECTED);
  }

  let version: number | undefined;
  if (metaType !== undefined) {
    const value = db
      .prepare(`SELECT value FROM ${quoted(META_TABLE)} WHERE key = ?`)
      .pluck()
      .get(versionKey(table));
    if (value !== undefined) {
      version = Number(value);
      if (!Number.isSafeInteger(version) || version < 1) {
        throw new StorageError(
          `open: the schema version of table "${table}" recorded in ${META_TABLE} of ${location} is ${JSON.stringify(value)}, ` +
            'not a version number. Nothing was changed; restore the database from a backup, or fix that row.',
          { operation: 'open', location },
        );
      }
      if (version > SCHEMA_VERSION) {
        throw new StorageError(
          `open: table "${table}" in ${location} has schema version ${version}, written by a newer release of plugin-state ` +
            `(this one knows version ${SCHEMA_VERSION}). Nothing was changed; upgrade plugin-state to use it.`,
          { operation: 'open', location },
        );
      }
    }
  }
  return {
    table: tableType !== undefined,
    history: historyType !== undefined,
    meta: metaType !== undefined,
    version,
  };
}

/**
 * Creates whatever is missing and upgrades a table of an older version (1: no history table) in
 * place; runs inside `BEGIN IMMEDIATE`, so processes opening at once agree. The states stay as
 * they are: an upgraded table starts with an empty history.
 */
export function createSchema(db: SqliteDatabase, table: string, location: string): void {
  const found = inspectSchema(db, table, location);
  if (!found.meta) {
    db.prepare(
      `CREATE TABLE ${quoted(META_TABLE)} (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)`,
    ).run();
  }
  if (!found.table) {
    db.prepare(
      `CREATE TABLE ${quoted(table)} (plugin_id TEXT PRIMARY KEY NOT NULL, version INTEGER NOT NULL, ` +
        'revision INTEGER NOT NULL, last_modified INTEGER NOT NULL, data TEXT NOT NULL)',
    ).run();
  }
  if (!found.history) {
    // A rowid table (not WITHOUT ROWID): rows of megabytes would make a clustered key's pages overflow.
    db.prepare(`CREATE TABLE ${quoted(historyTable(table))} (${HISTORY_EXPECTED})`).run();
  }
  if (found.version !== SCHEMA_VERSION) {
    db.prepare(`INSERT OR REPLACE INTO ${quoted(META_TABLE)} (key, value) VALUES (?, ?)`).run(
      versionKey(table),
      String(SCHEMA_VERSION),
    );
  }
}

/** True when {@link createSchema} has nothing left to do. */
export function isSchemaComplete(state: SchemaState): boolean {
  return state.table && state.history && state.meta && state.version === SCHEMA_VERSION;
}

function versionKey(table: string): string {
  return `${table}.schema_version`;
}

/** What keeps an existing table from being used as `expected`; empty when it fits. */
function shapeProblems(
  db: SqliteDatabase,
  table: string,
  type: string,
  expected: Record<string, string>,
  primaryKey: readonly string[],
): string[] {
  if (type !== 'table') return [`it is a ${type}, not a table`];
  const columns = db
    .prepare('SELECT lower(name), type, "notnull", dflt_value, pk FROM pragma_table_info(?)')
    .raw()
    .all(table) as [string, string, number, unknown, number][];
  const problems: string[] = [];
  for (const [name, affinityWanted] of Object.entries(expected)) {
    const column = columns.find(([found]) => found === name);
    if (!column) problems.push(`column ${name} is missing`);
    else if (affinity(column[1]) !== affinityWanted)
      problems.push(
        `column ${name} is declared ${column[1] || 'without a type'}, expected ${affinityWanted}`,
      );
  }
  const keys = columns
    .filter(([, , , , pk]) => pk > 0)
    .sort((a, b) => a[4] - b[4])
    .map(([name]) => name);
  if (keys.join(', ') !== primaryKey.join(', ')) {
    problems.push(`its primary key is (${keys.join(', ')}), expected (${primaryKey.join(', ')})`);
  }
  for (const [name, , notNull, defaultValue] of columns) {
    if (!(name in expected) && notNull && defaultValue === null) {
      problems.push(
        `extra column ${name} is NOT NULL without a default, so rows this library writes would be refused`,
      );
    }
  }
  return problems;
}

/** SQLite's type affinity of a declared column type (https://sqlite.org/datatype3.html#affname). */
function affinity(declared: string): string {
  const type = declared.toUpperCase();
  if (type.includes('INT')) return 'INTEGER';
  if (type.includes('CHAR') || type.includes('CLOB') || type.includes('TEXT')) return 'TEXT';
  if (type.includes('BLOB') || type === '') return 'BLOB';
  if (type.includes('REAL') || type.includes('FLOA') || type.includes('DOUB')) return 'REAL';
  return 'NUMERIC';
}

function wrongShape(table: string, location: string, problems: string[], expected: string): StorageError {
  return new StorageError(
    `open: table "${table}" in ${location} exists but is not a plugin-state table: ${problems.join('; ')}. ` +
      `Nothing was changed. Expected (${expected}); choose another table name (option table), or move that table away.`,
    { operation: 'open', location },
  );
}
