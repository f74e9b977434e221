// Chooses the PostgreSQL server the Postgres tests run against, and gives each test file its own
// schema on it, dropped at the end.
//
//   PLUGIN_STATE_TEST_POSTGRES_URL set  → that server (CI: the machine's PostgreSQL; .ci/run sets it)
//   not set                              → PGlite (a real Postgres build in WebAssembly) in this
//                                          process, served over TCP by @electric-sql/pglite-socket,
//                                          so the real `pg` driver and the real SQL are exercised.
//
// A URL that does not answer is a failure with a clear message, never a skip.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PostgresStateStorage, type PostgresStorageOptions } from '../../src/storage/postgres/index.js';

export const URL_VARIABLE = 'PLUGIN_STATE_TEST_POSTGRES_URL';

export type ServerKind = 'postgresql' | 'pglite';

/** A running server and an admin pool on it, for the tests' own checks. */
export interface TestServer {
  kind: ServerKind;
  /** Connection string of the database the tests use. */
  url: string;
  host: string;
  port: number;
  /** For test names and diagnostics: what ran, and why. */
  title: string;
  /** `SELECT version()`, once connected. */
  version: string;
  admin: pg.Pool;
  stop(): Promise<void>;
}

/** The server the environment selects: known without connecting, so test names can say it. */
export function selectedKind(): ServerKind {
  return process.env[URL_VARIABLE] ? 'postgresql' : 'pglite';
}

export function serverTitle(kind: ServerKind): string {
  if (kind === 'pglite') {
    return process.env[URL_VARIABLE]
      ? 'PGlite over pglite-socket (run as well, so the no-server path stays tested)'
      : `PGlite over pglite-socket (${URL_VARIABLE} not set)`;
  }
  const url = new URL(process.env[URL_VARIABLE]!);
  return `PostgreSQL at ${url.hostname}:${url.port || 5432}${url.pathname} (${URL_VARIABLE})`;
}

const running = new Map<ServerKind, Promise<TestServer>>();

/** The server of `kind` (default: the selected one), started or checked once per test process. */
export function testServer(kind: ServerKind = selectedKind()): Promise<TestServer> {
  let server = running.get(kind);
  if (!server) {
    server = kind === 'pglite' ? startPglite() : connectConfigured(process.env[URL_VARIABLE]!);
    running.set(kind, server);
  }
  return server;
}

/** Stops the server of `kind` if this process started it (PGlite), and ends its admin pool. */
export async function stopServer(kind: ServerKind): Promise<void> {
  const server = running.get(kind);
  running.delete(kind);
  const started = await server?.catch(() => undefined);
  await started?.stop();
}

async function connectConfigured(url: string): Promise<TestServer> {
  const parsed = new URL(url);
  const admin = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 5_000 });
  admin.on('error', () => undefined);
  let version: string;
  try {
    version = (await admin.query<{ version: string }>('SELECT version()')).rows[0]!.version;
  } catch (error) {
    await admin.end().catch(() => undefined);
    throw new Error(
      `${URL_VARIABLE}=${url} does not answer (${(error as Error).message}). ` +
        'Start PostgreSQL (.ci/run does: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start), ' +
        `or unset ${URL_VARIABLE} to run these tests against PGlite.`,
      { cause: error },
    );
  }
  return {
    kind: 'postgresql',
    url,
    host: parsed.hostname,
    port: Number(parsed.port || 5432),
    title: serverTitle('postgresql'),
    version,
    admin,
    stop: () => admin.end(),
  };
}

async function startPglite(): Promise<TestServer> {
  // Loaded only here: a run against a real server does not pay for the WebAssembly build.
  const { PGlite } = await import('@electric-sql/pglite');
  const { servePglite } = await import('./postgres-pglite.js');
  const db = await PGlite.create();
  // Many clients (the pools of several storages, child processes) share its one backend.
  const socketServer = await servePglite(db);
  const { host, port } = socketServer;
  const url = `postgres://postgres@${host}:${port}/postgres`;
  const admin = new pg.Pool({ connectionString: url, max: 2 });
  admin.on('error', () => undefined);
  const version = (await admin.query<{ version: string }>('SELECT version()')).rows[0]!.version;
  return {
    kind: 'pglite',
    url,
    host,
    port,
    title: serverTitle('pglite'),
    version,
    admin,
    stop: async () => {
      await admin.end().catch(() => undefined);
      await socketServer.stop();
      await db.close();
    },
  };
}

/** A new, unused schema name (not created): each test file, and some tests, get their own. */
export function newSchemaName(prefix = 'plugin_state_test'): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

/** Drops a schema a test used, with everything in it. */
export async function dropSchema(server: TestServer, schema: string): Promise<void> {
  await server.admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

/**
 * Storages for one test file: all in one schema of their own, each factory call a new table.
 * `cleanup()` drops the schema and stops what the file started.
 */
export class PostgresFixture {
  readonly schema = newSchemaName();
  private tables = 0;
  private readonly used = new Set<TestServer>();

  constructor(readonly kind: ServerKind = selectedKind()) {}

  /** Names the server in test names: the output must say which one ran. */
  get title(): string {
    return serverTitle(this.kind);
  }

  /** The server; its schema is dropped at cleanup() once the server has been used. */
  async server(): Promise<TestServer> {
    const server = await testServer(this.kind);
    this.used.add(server);
    return server;
  }

  /** A storage on a new table (or on `table`, to share one). */
  async storage(options: PostgresStorageOptions = {}, table?: string): Promise<PostgresStateStorage> {
    const server = await this.server();
    return new PostgresStateStorage(server.url, {
      schema: this.schema,
      table: table ?? `states_${++this.tables}`,
      ...options,
    });
  }

  /** Overwrites a row's data with cut-short JSON in place, as a bad migration or a hand edit would. */
  async corruptRow(schema: string, table: string, pluginId: string): Promise<void> {
    const server = await this.server();
    const result = await server.admin.query(
      `UPDATE "${schema}"."${table}" SET data = '{"truncated": [1, 2' WHERE plugin_id = $1`,
      [pluginId],
    );
    if (result.rowCount !== 1) throw new Error(`corruptRow(): no row for ${pluginId} in ${schema}.${table}`);
  }

  async cleanup(): Promise<void> {
    for (const server of this.used) await dropSchema(server, this.schema).catch(() => undefined);
    await stopServer(this.kind);
  }
}
