import { StorageError } from '../../core/errors.js';
import { createWriteFunctions, functionSignatures } from './functions.js';
import { META_SUFFIX, quoteIdentifier, type TableNames } from './options.js';

/** Runs one statement and returns its rows. */
export type RunQuery = <Row>(text: string, values?: unknown[]) => Promise<Row[]>;

/** What creating the table needs from the storage: statements, and a transaction on one connection. */
export interface SchemaSession {
  query: RunQuery;
  transaction<T>(body: (query: RunQuery) => Promise<T>): Promise<T>;
}

/**
 * The layout of the library's own tables; `<table>_meta` records it as `schema_version`.
 * 1: the state table alone. 2: beside it, `<table>_history` with the replaced revisions of each
 * state, and the functions that write both (functions.ts). A table of layout 1 is upgraded in
 * place on open (see {@link ensureTables}): the history table and the functions are created, the
 * states stay as they are, and an older release then refuses the tables (it would write without
 * keeping history, and reuse revision numbers history holds).
 */
export const SCHEMA_VERSION = 2;

/**
 * Serializes every instance that creates or migrates these tables, in any schema, across
 * processes and hosts: the first 8 bytes of "plugin-state" read as a number.
 */
const CREATION_LOCK_KEY = '8100978916743589235';

/** Database encodings in which any JSON text round-trips exactly. */
const ENCODINGS = new Set(['UTF8', 'SQL_ASCII']);

interface Column {
  name: string;
  type: string;
  not_null: boolean;
  has_default: boolean;
  unique_key: boolean;
}

/** Accepted types of each column the library reads and writes (the first is what it creates). */
const EXPECTED: Record<string, readonly string[]> = {
  plugin_id: ['uuid', 'text'],
  version: ['bigint', 'integer'],
  revision: ['bigint'],
  last_modified: ['bigint'],
  data: ['text'],
};

/**
 * Whether the server can compress large values with LZ4 (PostgreSQL 14+ built with it). Its default,
 * pglz, made a 1 MB save take 26 ms here against 9 ms with lz4: pglz is slow on JSON text.
 */
async function supportsLz4(query: RunQuery): Promise<boolean> {
  const [row] = await query<{ enumvals: string[] | string | null }>(
    `SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'`,
  );
  const values = row?.enumvals;
  return Array.isArray(values)
    ? values.includes('lz4')
    : typeof values === 'string' && values.includes('lz4');
}

function createHistoryTable(names: TableNames, idType: string, lz4: boolean): string[] {
  // No CHECK constraints: a row is copied as the state table held it (a table adopted from an
  // older tool may lack them), and a save must never fail on keeping it; reads check every row.
  return [
    `CREATE TABLE IF NOT EXISTS ${names.history} (
      plugin_id ${idType} NOT NULL,
      revision bigint NOT NULL,
      version bigint NOT NULL,
      last_modified bigint NOT NULL,
      data text ${lz4 ? 'COMPRESSION lz4 ' : ''}NOT NULL,
      PRIMARY KEY (plugin_id, revision)
    )`,
    `COMMENT ON TABLE ${names.history} IS 'plugin-state: the replaced revisions of each state in ${names.table}, kept up to the configured history per state'`,
  ];
}

function createTable(names: TableNames, lz4: boolean): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${names.qualified} (
      plugin_id uuid PRIMARY KEY,
      version bigint NOT NULL CHECK (version >= 1),
      revision bigint NOT NULL CHECK (revision >= 1),
      last_modified bigint NOT NULL,
      data text ${lz4 ? 'COMPRESSION lz4 ' : ''}NOT NULL
    )`,
    `COMMENT ON TABLE ${names.qualified} IS 'plugin-state: one row per plugin; see ${names.table}${META_SUFFIX} for the layout version'`,
    `COMMENT ON COLUMN ${names.qualified}.last_modified IS 'milliseconds since 1970-01-01 UTC'`,
    `COMMENT ON COLUMN ${names.qualified}.data IS 'the state as JSON text, byte for byte as saved (text, not jsonb: jsonb refuses \\u0000 and reorders keys)'`,
  ];
}

/** The state of the tables, read without taking any lock. */
interface Inspection {
  encoding: string;
  hasSchema: boolean;
  hasTable: boolean;
  hasMeta: boolean;
  hasHistory: boolean;
}

async function inspect(query: RunQuery, names: TableNames): Promise<Inspection> {
  const [row] = await query<{
    encoding: string;
    has_schema: boolean;
    has_table: boolean;
    has_meta: boolean;
    has_history: boolean;
  }>(
    `SELECT current_setting('server_encoding') AS encoding,
            EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS has_schema,
            to_regclass($2) IS NOT NULL AS has_table,
            to_regclass($3) IS NOT NULL AS has_meta,
            to_regclass($4) IS NOT NULL AS has_history`,
    [names.schema, names.qualified, names.meta, names.history],
  );
  return {
    encoding: row!.encoding,
    hasSchema: row!.has_schema,
    hasTable: row!.has_table,
    hasMeta: row!.has_meta,
    hasHistory: row!.has_history,
  };
}

async function storedVersion(query: RunQuery, names: TableNames): Promise<number | undefined> {
  const [row] = await query<{ value: string }>(
    `SELECT value FROM ${names.meta} WHERE key = 'schema_version'`,
  );
  if (!row) return undefined;
  const version = Number(row.value);
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new StorageError(
      `open: ${names.meta} holds schema_version ${JSON.stringify(row.value)}, not a layout version. ` +
        `It was changed by hand; set it back to the version the table has (${SCHEMA_VERSION} for this release).`,
      { operation: 'open', location: names.meta },
    );
  }
  return version;
}

function refuseNewer(names: TableNames, version: number): never {
  throw new StorageError(
    `open: ${names.qualified} has layout version ${version} (in ${names.meta}), newer than the ${SCHEMA_VERSION} this version of plugin-state knows. ` +
      'Upgrade plugin-state in this application; nothing was changed.',
    { operation: 'open', location: names.qualified },
  );
}

async function columnsOf(query: RunQuery, qualified: string): Promise<Column[]> {
  return query<Column>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
            a.attnotnull AS not_null, a.atthasdef AS has_default,
            EXISTS (SELECT 1 FROM pg_index i
                     WHERE i.indrelid = a.attrelid AND i.indisunique AND i.indnkeyatts = 1
                       AND i.indkey[0] = a.attnum AND i.indpred IS NULL) AS unique_key
       FROM pg_attribute a
      WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`,
    [qualified],
  );
}

/**
 * Refuses a table this library did not create and cannot use, before anything is written.
 * Returns the type of its plugin_id column (`uuid`, or `text` in a table adopted as it was).
 */
async function checkShape(query: RunQuery, names: TableNames): Promise<string> {
  const columns = await columnsOf(query, names.qualified);
  const found = new Map(columns.map((column) => [column.name, column]));
  const problems: string[] = [];
  for (const [name, types] of Object.entries(EXPECTED)) {
    const column = found.get(name);
    if (!column) problems.push(`column ${name} is missing`);
    else if (!types.includes(column.type))
      problems.push(`column ${name} is ${column.type}, expected ${types.join(' or ')}`);
  }
  if (found.get('plugin_id') && !found.get('plugin_id')!.unique_key) {
    problems.push('plugin_id is not its primary key');
  }
  if (found.get('data')?.type === 'jsonb' || found.get('data')?.type === 'json') {
    problems.push('(jsonb refuses \\u0000 in strings and reorders keys, so states would not round-trip)');
  }
  for (const column of columns) {
    if (!(column.name in EXPECTED) && column.not_null && !column.has_default) {
      problems.push(`column ${column.name} is NOT NULL without a default, so no row could be inserted`);
    }
  }
  if (problems.length > 0) throw notOurs(names.qualified, problems);
  return found.get('plugin_id')!.type;
}

/** Refuses a history table this library cannot use; `idType` is the state table's plugin_id type. */
async function checkHistoryShape(query: RunQuery, names: TableNames, idType: string): Promise<void> {
  const columns = await columnsOf(query, names.history);
  const found = new Map(columns.map((column) => [column.name, column]));
  const problems: string[] = [];
  const expected: Record<string, readonly string[]> = {
    ...EXPECTED,
    plugin_id: [idType],
    version: ['bigint'],
  };
  for (const [name, types] of Object.entries(expected)) {
    const column = found.get(name);
    if (!column) problems.push(`column ${name} is missing`);
    else if (!types.includes(column.type))
      problems.push(`column ${name} is ${column.type}, expected ${types.join(' or ')}`);
  }
  for (const column of columns) {
    if (!(column.name in expected) && column.not_null && !column.has_default) {
      problems.push(`column ${column.name} is NOT NULL without a default, so no row could be inserted`);
    }
  }
  const [key] = await query<{ found: boolean }>(
    `SELECT EXISTS (
       SELECT 1 FROM pg_index i
        WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indpred IS NULL AND i.indnkeyatts = 2
          AND (SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute a
                WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[]))
              = ARRAY['plugin_id', 'revision']) AS found`,
    [names.history],
  );
  if (!key?.found) problems.push('(plugin_id, revision) is not its primary key');
  if (problems.length > 0) throw notOurs(names.history, problems);
}

async function functionsExist(query: RunQuery, names: TableNames, idType: string): Promise<boolean> {
  const signatures = functionSignatures(names, idType);
  const [row] = await query<{ found: boolean }>(
    'SELECT bool_and(to_regprocedure(signature) IS NOT NULL) AS found FROM unnest($1::text[]) AS signature',
    [signatures],
  );
  return row?.found === true;
}

function notOurs(qualified: string, problems: string[]): StorageError {
  return new StorageError(
    `open: ${qualified} exists but is not a plugin-state table: ${problems.join('; ')}. ` +
      'Nothing was changed. Choose another table (options.table or options.schema), or move that table away.',
    { operation: 'open', location: qualified },
  );
}

function checkEncoding(encoding: string, names: TableNames): void {
  if (!ENCODINGS.has(encoding)) {
    throw new StorageError(
      `open: the database holding ${names.qualified} uses encoding ${encoding}, in which some states could not be stored. ` +
        'Use a database created with ENCODING UTF8.',
      { operation: 'open', location: names.qualified },
    );
  }
}

/**
 * Makes sure the schema, the table, its history table and its meta table exist with the expected
 * layout, creating or upgrading them when needed. The common case (all there, current layout) is
 * read-only and needs no privilege beyond reading the catalog. Otherwise the work is done in one
 * transaction holding an advisory lock, so that many instances starting at once create everything
 * exactly once (`IF NOT EXISTS` alone races on the catalog's unique indexes), and a failure leaves
 * nothing half made. Only what is missing is created: `CREATE … IF NOT EXISTS` would still need
 * CREATE privilege. Upgrading layout 1 means creating the history table (empty) and the write
 * functions, and recording 2.
 */
export async function ensureTables(session: SchemaSession, names: TableNames): Promise<void> {
  const seen = await inspect(session.query, names);
  checkEncoding(seen.encoding, names);
  if (seen.hasTable && seen.hasMeta) {
    const version = await storedVersion(session.query, names);
    if (version !== undefined && version > SCHEMA_VERSION) refuseNewer(names, version);
    if (version === SCHEMA_VERSION && seen.hasHistory) {
      const idType = await checkShape(session.query, names);
      await checkHistoryShape(session.query, names, idType);
      if (await functionsExist(session.query, names, idType)) return;
    }
  }
  await session.transaction(async (query) => {
    await query('SELECT pg_advisory_xact_lock($1::bigint)', [CREATION_LOCK_KEY]);
    const now = await inspect(query, names); // another instance may have done it while we waited
    const idType = now.hasTable ? await checkShape(query, names) : 'uuid';
    if (now.hasHistory) await checkHistoryShape(query, names, idType);
    if (!now.hasSchema) await query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(names.schema)}`);
    if (!now.hasMeta) {
      await query(`CREATE TABLE IF NOT EXISTS ${names.meta} (key text PRIMARY KEY, value text NOT NULL)`);
    }
    const version = await storedVersion(query, names);
    // Refused before anything of the state tables changes (and the transaction undoes the rest).
    if (version !== undefined && version > SCHEMA_VERSION) refuseNewer(names, version);
    if (!now.hasTable || !now.hasHistory) {
      const lz4 = await supportsLz4(query);
      if (!now.hasTable) for (const statement of createTable(names, lz4)) await query(statement);
      if (!now.hasHistory)
        for (const statement of createHistoryTable(names, idType, lz4)) await query(statement);
    }
    // Always (re)made here: they hold this release's logic, and are cheap to replace.
    for (const statement of createWriteFunctions(names, idType)) await query(statement);
    if (version === undefined) {
      // A new table, or one made before its meta table: it has the layout checked above.
      await query(`INSERT INTO ${names.meta} (key, value) VALUES ('schema_version', $1)`, [
        String(SCHEMA_VERSION),
      ]);
    } else if (version < SCHEMA_VERSION) {
      // Layout 1 → 2: the history table, created above, is the only change.
      await query(`UPDATE ${names.meta} SET value = $1 WHERE key = 'schema_version'`, [
        String(SCHEMA_VERSION),
      ]);
    }
  });
}
