import { StorageError } from '../../core/errors.js';
import { META_SUFFIX, quoteIdentifier, type TableNames } from './options.js';

/** Runs one statement and returns its rows. */
export type RunQuery = <Row>(text: string, values?: unknown[]) => Promise<Row[]>;

/** What creating the table needs from the storage: statements, and a transaction on one connection. */
export interface SchemaSession {
  query: RunQuery;
  transaction<T>(body: (query: RunQuery) => Promise<T>): Promise<T>;
}

/** The layout of the library's own tables; `<table>_meta` records it as `schema_version`. */
export const SCHEMA_VERSION = 1;

/**
 * Steps that bring the tables from layout `n` to `n + 1`, at index `n - 1`; run in order inside the
 * creation transaction, under its lock. None yet: version 1 is the first layout.
 */
const MIGRATIONS: ReadonlyArray<(names: TableNames) => string[]> = [];

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
}

async function inspect(query: RunQuery, names: TableNames): Promise<Inspection> {
  const [row] = await query<{ encoding: string; has_schema: boolean; has_table: boolean; has_meta: boolean }>(
    `SELECT current_setting('server_encoding') AS encoding,
            EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS has_schema,
            to_regclass($2) IS NOT NULL AS has_table,
            to_regclass($3) IS NOT NULL AS has_meta`,
    [names.schema, names.qualified, names.meta],
  );
  return {
    encoding: row!.encoding,
    hasSchema: row!.has_schema,
    hasTable: row!.has_table,
    hasMeta: row!.has_meta,
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
        'It was changed by hand; set it back to the version the table has (1 for this release).',
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

/** Refuses a table this library did not create and cannot use, before anything is written. */
async function checkShape(query: RunQuery, names: TableNames): Promise<void> {
  const columns = await query<Column>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
            a.attnotnull AS not_null, a.atthasdef AS has_default,
            EXISTS (SELECT 1 FROM pg_index i
                     WHERE i.indrelid = a.attrelid AND i.indisunique AND i.indnkeyatts = 1
                       AND i.indkey[0] = a.attnum AND i.indpred IS NULL) AS unique_key
       FROM pg_attribute a
      WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`,
    [names.qualified],
  );
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
  if (problems.length > 0) {
    throw new StorageError(
      `open: ${names.qualified} exists but is not a plugin-state table: ${problems.join('; ')}. ` +
        'Nothing was changed. Choose another table (options.table or options.schema), or move that table away.',
      { operation: 'open', location: names.qualified },
    );
  }
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
 * Makes sure the schema, the table and its meta table exist with the expected layout, creating or
 * migrating them when needed. The common case (all there, current layout) is read-only and needs
 * no privilege beyond reading the catalog. Otherwise the work is done in one transaction holding an
 * advisory lock, so that many instances starting at once create everything exactly once (`IF NOT
 * EXISTS` alone races on the catalog's unique indexes), and a failure leaves nothing half made.
 * Only what is missing is created: `CREATE … IF NOT EXISTS` would still need CREATE privilege.
 */
export async function ensureTables(session: SchemaSession, names: TableNames): Promise<void> {
  const seen = await inspect(session.query, names);
  checkEncoding(seen.encoding, names);
  if (seen.hasTable && seen.hasMeta) {
    const version = await storedVersion(session.query, names);
    if (version !== undefined && version > SCHEMA_VERSION) refuseNewer(names, version);
    if (version === SCHEMA_VERSION) {
      await checkShape(session.query, names);
      return;
    }
  }
  await session.transaction(async (query) => {
    await query('SELECT pg_advisory_xact_lock($1::bigint)', [CREATION_LOCK_KEY]);
    const now = await inspect(query, names); // another instance may have done it while we waited
    if (now.hasTable) await checkShape(query, names);
    if (!now.hasSchema) await query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(names.schema)}`);
    if (!now.hasTable) {
      const lz4 = await supportsLz4(query);
      for (const statement of createTable(names, lz4)) await query(statement);
    }
    if (!now.hasMeta) {
      await query(`CREATE TABLE IF NOT EXISTS ${names.meta} (key text PRIMARY KEY, value text NOT NULL)`);
    }
    let version = await storedVersion(query, names);
    if (version === undefined) {
      // A new table, or one made before its meta table: it has the layout checked above.
      await query(`INSERT INTO ${names.meta} (key, value) VALUES ('schema_version', $1)`, [
        String(SCHEMA_VERSION),
      ]);
      version = SCHEMA_VERSION;
    }
    if (version > SCHEMA_VERSION) refuseNewer(names, version);
    for (let step = version; step < SCHEMA_VERSION; step++) {
      for (const statement of MIGRATIONS[step - 1]!(names)) await query(statement);
    }
    if (version < SCHEMA_VERSION) {
      await query(`UPDATE ${names.meta} SET value = $1 WHERE key = 'schema_version'`, [
        String(SCHEMA_VERSION),
      ]);
    }
  });
}
