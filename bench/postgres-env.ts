// The PostgreSQL server the bench measures against, and a schema of its own on it (a random name,
// dropped at the end). PLUGIN_STATE_BENCH_POSTGRES_URL, else PLUGIN_STATE_TEST_POSTGRES_URL, else
// this machine's server. A server that does not answer is not a crash: the Postgres rows are left
// out and the report says why.
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import pg from 'pg';

export const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';
const URL_VARIABLES = ['PLUGIN_STATE_BENCH_POSTGRES_URL', 'PLUGIN_STATE_TEST_POSTGRES_URL'] as const;

/** What the report prints about the server, beside the Postgres rows. */
export interface PostgresServerInfo {
  /** The URL without its password, and where it came from. */
  shownUrl: string;
  source: string;
  version: string;
  /** `fsync`, `synchronous_commit`, `wal_sync_method`, `commit_delay`, `shared_buffers`. */
  settings: Record<string, string>;
  /** Whether the server's data directory is on the filesystem of the bench's data dir (local servers only). */
  sameDisk: string;
}

export interface PostgresEnv {
  url: string;
  schema: string;
  info: PostgresServerInfo;
  /** A storage URL for openStorage: the server, this run's schema and `table`. */
  storageUrl(table: string): string;
  dropTable(table: string): Promise<void>;
  /** Drops this run's schema (with everything in it) and ends the admin pool. */
  dispose(): Promise<void>;
}

export type PostgresSetup =
  | { ok: true; env: PostgresEnv }
  | { ok: false; shownUrl: string; source: string; reason: string };

/** Quotes an identifier for SQL text (the bench's names are plain already). */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A table name for a subject's folder name (`1KB-postgres` → `t_1kb_postgres`). */
export function tableFor(key: string): string {
  return `t_${key.toLowerCase().replace(/[^a-z0-9]+/g, '_')}`.slice(0, 50);
}

function chosenUrl(): { url: string; source: string } {
  for (const name of URL_VARIABLES) {
    const value = process.env[name];
    if (value && value.trim() !== '') return { url: value, source: name };
  }
  return { url: DEFAULT_POSTGRES_URL, source: `default; set ${URL_VARIABLES[0]} to choose another server` };
}

function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(not a URL)';
  }
}

/** An error's text, including the parts of an AggregateError (Node's "localhost" tries ::1 and 127.0.0.1). */
export function reasonOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    return error.errors.map(reasonOf).join('; ');
  }
  if (error instanceof Error) return error.message || (error as { code?: string }).code || error.name;
  return String(error);
}

export async function setUpPostgres(benchDataDir: string): Promise<PostgresSetup> {
  const { url, source } = chosenUrl();
  const shownUrl = withoutPassword(url);
  const admin = new pg.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 5_000 });
  admin.on('error', () => undefined);
  const schema = `plugin_state_bench_${randomBytes(6).toString('hex')}`;
  let info: PostgresServerInfo;
  try {
    const setting = async (name: string) => {
      try {
        const { rows } = await admin.query<{ value: string }>('SELECT current_setting($1) AS value', [name]);
        return rows[0]?.value ?? '?';
      } catch {
        return '(not readable)';
      }
    };
    const version = await setting('server_version');
    const settings: Record<string, string> = {};
    for (const name of ['fsync', 'synchronous_commit', 'wal_sync_method', 'commit_delay', 'shared_buffers']) {
      settings[name] = await setting(name);
    }
    info = {
      shownUrl,
      source,
      version,
      settings,
      sameDisk: sameDisk(url, await setting('data_directory'), benchDataDir),
    };
    await admin.query(`CREATE SCHEMA ${quoteIdentifier(schema)}`);
  } catch (error) {
    await admin.end().catch(() => undefined);
    return { ok: false, shownUrl, source, reason: reasonOf(error) };
  }
  let disposed = false;
  return {
    ok: true,
    env: {
      url,
      schema,
      info,
      storageUrl(table) {
        const parsed = new URL(url);
        parsed.searchParams.set('schema', schema);
        parsed.searchParams.set('table', table);
        return parsed.toString();
      },
      async dropTable(table) {
        await admin.query(
          `DROP TABLE IF EXISTS ${quoteIdentifier(schema)}.${quoteIdentifier(table)} CASCADE`,
        );
        await admin.query(
          `DROP TABLE IF EXISTS ${quoteIdentifier(schema)}.${quoteIdentifier(`${table}_meta`)} CASCADE`,
        );
      },
      async dispose() {
        if (disposed) return;
        disposed = true;
        try {
          await admin.query(`DROP SCHEMA IF EXISTS ${quoteIdentifier(schema)} CASCADE`);
        } finally {
          await admin.end().catch(() => undefined);
        }
      },
    },
  };
}

function sameDisk(url: string, dataDirectory: string, benchDataDir: string): string {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return 'unknown';
  }
  if (!['127.0.0.1', 'localhost', '::1', '[::1]', ''].includes(host)) return 'unknown (remote server)';
  try {
    const same = statSync(dataDirectory).dev === statSync(benchDataDir).dev;
    return same ? `yes (${dataDirectory})` : `no (${dataDirectory})`;
  } catch {
    return `unknown (${dataDirectory} not readable here)`;
  }
}
