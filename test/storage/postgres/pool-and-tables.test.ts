// What is specific to PostgresStateStorage beyond the conformance suite: who owns the pool, how the
// tables are created (also by many instances at once) and refused, what is stored, corrupt rows,
// options, and the optional driver.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import {
  type PluginState,
  SerializationError,
  type StateReport,
  StorageError,
  ValidationError,
} from '../../../src/index.js';
import { PostgresStateStorage, type PostgresStorageOptions } from '../../../src/storage/postgres/index.js';
import { TcpProxy } from '../../helpers/postgres-proxy.js';
import { dropSchema, newSchemaName, PostgresFixture } from '../../helpers/postgres-server.js';
import { Child, helperScript } from '../../helpers/processes.js';

const fixture = new PostgresFixture();
after(() => fixture.cleanup());

const stateOf = (pluginId: string, data: PluginState['data']): PluginState => ({
  pluginId,
  data,
  lastModified: new Date(Date.UTC(2024, 1, 29, 12, 34, 56, 789)),
});

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  assert.fail('expected a rejection');
}

async function admin() {
  return (await fixture.server()).admin;
}

describe(`PostgresStateStorage pools on ${fixture.title}`, () => {
  it("uses the host's own Pool, and close() never ends it", async () => {
    const server = await fixture.server();
    const pool = new pg.Pool({ connectionString: server.url, max: 3 });
    try {
      const storage = new PostgresStateStorage(pool, { schema: fixture.schema, table: 'host_pool' });
      const id = randomUUID();
      await storage.saveState(stateOf(id, 'via the host pool'));
      await storage.close();
      await storage.close();
      assert.equal(pool.ended, false, 'the pool is still open');
      const { rows } = await pool.query(
        `SELECT data FROM "${fixture.schema}".host_pool WHERE plugin_id = $1`,
        [id],
      );
      assert.deepEqual(rows, [{ data: '"via the host pool"' }], 'and the host can keep using it');
      // A second storage on the same pool sees the state.
      const again = new PostgresStateStorage(pool, { schema: fixture.schema, table: 'host_pool' });
      assert.equal((await again.loadState(id))?.data, 'via the host pool');
      await again.close();
    } finally {
      await pool.end();
    }
    const late = new PostgresStateStorage(pool, { schema: fixture.schema, table: 'host_pool' });
    const error = await rejection(late.loadState(randomUUID()));
    assert.ok(error instanceof StorageError, String(error));
    assert.match(error.message, /ended by its owner/);
    await late.close();
  });

  it('ends the pool it created on close(): no connection stays open', async () => {
    const server = await fixture.server();
    const proxy = await TcpProxy.start(server.host, server.port);
    try {
      const storage = new PostgresStateStorage(proxy.urlFor(server.url), {
        schema: fixture.schema,
        table: 'own_pool',
      });
      await Promise.all(Array.from({ length: 6 }, (_, n) => storage.saveState(stateOf(randomUUID(), n))));
      assert.ok(proxy.open >= 1, 'the storage holds pooled connections');
      await storage.close();
      for (let waited = 0; proxy.open > 0 && waited < 2_000; waited += 10) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.equal(proxy.open, 0, 'every connection was closed');
    } finally {
      await proxy.close();
    }
  });

  it('accepts a PoolConfig object', async () => {
    const server = await fixture.server();
    const storage = new PostgresStateStorage(
      { connectionString: server.url, max: 2, application_name: 'plugin-state-test' },
      { schema: fixture.schema, table: 'from_config' },
    );
    const id = randomUUID();
    assert.equal((await storage.saveState(stateOf(id, 'x'))).revision, 1);
    assert.equal((await storage.loadState(id))?.data, 'x');
    await storage.close();
  });
  it('works without prepared statements (prepareStatements: false, for poolers)', async () => {
    const storage = await fixture.storage({ prepareStatements: false }, 'unprepared');
    const id = randomUUID();
    const saved = await storage.saveState(stateOf(id, 'first'), { expectedRevision: 0 });
    await storage.saveState(stateOf(id, 'second'), { expectedRevision: saved.revision });
    await storage.saveState(stateOf(id, 'third'));
    assert.deepEqual(
      (await storage.listStates()).map((state) => [state.data, state.revision]),
      [['third', 3]],
    );
    await storage.deleteState(id);
    assert.equal(await storage.loadState(id), undefined);
    await storage.close();
  });
});

describe(`PostgresStateStorage tables on ${fixture.title}`, () => {
  it('eight instances opening at once on a fresh schema create it, the table, its history and its meta row once', async () => {
    const server = await fixture.server();
    const schema = newSchemaName('plugin_state_race');
    try {
      const open = (table: string) => new PostgresStateStorage(server.url, { schema, table });
      // Eight on one table, and eight more on eight tables of the same new schema.
      const shared = Array.from({ length: 8 }, () => open('shared'));
      const separate = Array.from({ length: 8 }, (_, n) => open(`separate_${n}`));
      const results = await Promise.allSettled([...shared, ...separate].map((storage) => storage.open()));
      const failed = results.filter((result) => result.status === 'rejected');
      assert.deepEqual(
        failed.map((result) => String((result as PromiseRejectedResult).reason)),
        [],
        'every instance opened',
      );
      const ids = shared.map(() => randomUUID());
      await Promise.all(shared.map((storage, n) => storage.saveState(stateOf(ids[n]!, n))));
      assert.deepEqual(
        (await shared[0]!.listStates()).map((state) => state.pluginId).sort(),
        [...ids].sort(),
        'each instance saved into the one shared table',
      );
      const { rows } = await server.admin.query(`SELECT key, value FROM "${schema}".shared_meta`);
      assert.deepEqual(rows, [{ key: 'schema_version', value: '2' }]);
      const tables = await server.admin.query(
        `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = $1`,
        [schema],
      );
      assert.equal(tables.rows[0].n, 27, '9 tables, each with its history and meta tables');
      await Promise.all([...shared, ...separate].map((storage) => storage.close()));
    } finally {
      await dropSchema(server, schema);
    }
  });

  it('stores plain columns, and data as the exact JSON text (key order and \\u0000 kept)', async () => {
    const storage = await fixture.storage({}, 'columns');
    const id = randomUUID();
    const data = { z: 1, a: 'NUL \u0000 here', m: [{ y: 2, b: 3 }], '': null };
    const lastModified = new Date(Date.UTC(-5000, 0, 1, 0, 0, 0, 1)); // before timestamptz's range
    await storage.saveState({ pluginId: id, data, lastModified, version: 7 });
    const { rows } = await (await admin()).query(
      `SELECT plugin_id, version, revision, last_modified, data FROM "${fixture.schema}".columns`,
    );
    assert.deepEqual(rows, [
      {
        plugin_id: id,
        version: '7',
        revision: '1',
        last_modified: String(lastModified.getTime()),
        data: JSON.stringify(data),
      },
    ]);
    const loaded = await storage.loadState(id);
    assert.deepEqual(Object.keys(loaded!.data as object), ['z', 'a', 'm', ''], 'key order survives');
    assert.equal(loaded?.lastModified.getTime(), lastModified.getTime());
    const types = await (await admin()).query(
      `SELECT column_name, data_type FROM information_schema.columns
        WHERE table_schema = $1 AND table_name = 'columns' ORDER BY ordinal_position`,
      [fixture.schema],
    );
    assert.deepEqual(
      types.rows.map((row) => `${row.column_name} ${row.data_type}`),
      ['plugin_id uuid', 'version bigint', 'revision bigint', 'last_modified bigint', 'data text'],
    );
    await storage.close();
  });

  it('refuses an existing table of another shape, and changes nothing', async () => {
    const db = await admin();
    const table = `${fixture.schema}.foreign_table`;
    await db.query(
      `CREATE TABLE ${table} (plugin_id uuid PRIMARY KEY, data jsonb NOT NULL, owner text NOT NULL)`,
    );
    const id = randomUUID();
    await db.query(`INSERT INTO ${table} VALUES ($1, '{"kept": true}', 'someone')`, [id]);
    const storage = await fixture.storage({}, 'foreign_table');
    const error = await rejection(storage.loadState(id));
    assert.ok(error instanceof StorageError, String(error));
    for (const part of [
      `"${fixture.schema}"."foreign_table"`,
      'column version is missing',
      'column data is jsonb, expected text',
      'column owner is NOT NULL without a default',
      'Nothing was changed',
    ]) {
      assert.ok(error.message.includes(part), `the message says ${part}: ${error.message}`);
    }
    const { rows } = await db.query(`SELECT plugin_id, data, owner FROM ${table}`);
    assert.deepEqual(rows, [{ plugin_id: id, data: { kept: true }, owner: 'someone' }]);
    const meta = await db.query(`SELECT to_regclass($1) AS meta, to_regclass($2) AS history`, [
      `${table}_meta`,
      `${table}_history`,
    ]);
    assert.equal(meta.rows[0].meta, null, 'no meta table was created beside it');
    assert.equal(meta.rows[0].history, null, 'no history table was created beside it');
    await storage.close();
  });

  it('refuses a table whose layout is newer than this version knows', async () => {
    const first = await fixture.storage({}, 'from_the_future');
    const id = randomUUID();
    await first.saveState(stateOf(id, 'kept'));
    await first.close();
    const db = await admin();
    await db.query(`UPDATE "${fixture.schema}".from_the_future_meta SET value = '3'`);
    const later = await fixture.storage({}, 'from_the_future');
    const error = await rejection(later.open());
    assert.ok(error instanceof StorageError, String(error));
    assert.match(error.message, /layout version 3.*Upgrade plugin-state/);
    const { rows } = await db.query(`SELECT data FROM "${fixture.schema}".from_the_future`);
    assert.deepEqual(rows, [{ data: '"kept"' }]);
    await later.close();
  });

  it('keeps the case of quoted names', async () => {
    const server = await fixture.server();
    const schema = newSchemaName('Plugin_State_Case');
    try {
      const storage = new PostgresStateStorage(server.url, { schema, table: 'States' });
      await storage.saveState(stateOf(randomUUID(), 1));
      await storage.close();
      const { rows } = await server.admin.query(
        'SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename',
        [schema],
      );
      assert.deepEqual(
        rows.map((row) => row.tablename),
        ['States', 'States_history', 'States_meta'],
      );
    } finally {
      await dropSchema(server, schema);
    }
  });
});

describe(`PostgresStateStorage corrupt rows on ${fixture.title}`, () => {
  it('a corrupt row is a SerializationError naming server, table and id; list skips and reports it', async () => {
    const reports: StateReport[] = [];
    const storage = await fixture.storage({ onReport: (report) => reports.push(report) }, 'corrupt');
    const bad = randomUUID();
    const odd = randomUUID();
    const good = randomUUID();
    for (const id of [bad, odd, good]) await storage.saveState(stateOf(id, { id }));
    const db = await admin();
    const garbage = '{"half": [1, 2';
    await db.query(`UPDATE "${fixture.schema}".corrupt SET data = $2 WHERE plugin_id = $1`, [bad, garbage]);
    await db.query(`UPDATE "${fixture.schema}".corrupt SET last_modified = 9e15 WHERE plugin_id = $1`, [odd]);
    const server = await fixture.server();

    for (const [id, problem] of [
      [bad, /data column is not valid JSON/],
      [odd, /last_modified column holds "9000000000000000"/],
    ] as const) {
      const error = await rejection(storage.loadState(id));
      assert.ok(error instanceof SerializationError, String(error));
      for (const part of [`${server.host}:${server.port}`, `"${fixture.schema}"."corrupt"`, id]) {
        assert.ok(error.message.includes(part), `the message names ${part}: ${error.message}`);
      }
      assert.match(error.message, problem);
    }

    const listed = await storage.listStates();
    assert.deepEqual(
      listed.map((state) => state.pluginId),
      [good],
    );
    assert.deepEqual(
      reports.map((report) => [report.operation, report.pluginId, report.code]).sort(),
      [
        ['listStates', bad, 'SERIALIZATION'],
        ['listStates', odd, 'SERIALIZATION'],
      ].sort(),
    );
    const { rows } = await db.query(`SELECT data FROM "${fixture.schema}".corrupt WHERE plugin_id = $1`, [
      bad,
    ]);
    assert.deepEqual(rows, [{ data: garbage }], 'the corrupt row is left as it was');
    await storage.close();
  });
});

describe('PostgresStateStorage options', () => {
  const url = 'postgres://postgres@127.0.0.1:5432/test';
  const refused: [string, () => unknown][] = [
    ['a table name with a dash', () => new PostgresStateStorage(url, { table: 'plugin-states' })],
    ['a table name with a quote', () => new PostgresStateStorage(url, { table: 'x"; DROP TABLE y; --' })],
    ['a table name starting with a digit', () => new PostgresStateStorage(url, { table: '1states' })],
    ['an empty table name', () => new PostgresStateStorage(url, { table: '' })],
    // 55 at most: `<table>_history` must fit PostgreSQL's 63 characters.
    ['a table name of 56 characters', () => new PostgresStateStorage(url, { table: 't'.repeat(56) })],
    ['a schema name of 64 characters', () => new PostgresStateStorage(url, { schema: 's'.repeat(64) })],
    ['a reserved pg_ schema', () => new PostgresStateStorage(url, { schema: 'pg_catalog' })],
    ['a zero connect timeout', () => new PostgresStateStorage(url, { connectTimeoutMs: 0 })],
    ['a fractional query timeout', () => new PostgresStateStorage(url, { queryTimeoutMs: 1.5 })],
    ['a NaN query timeout', () => new PostgresStateStorage(url, { queryTimeoutMs: Number.NaN })],
    ['an empty connection string', () => new PostgresStateStorage('  ')],
    ['a number as connection', () => new PostgresStateStorage(42 as unknown as string)],
    ['null as connection', () => new PostgresStateStorage(null as unknown as string)],
  ];
  for (const [what, construct] of refused) {
    it(`${what} is a ValidationError at construction`, () => {
      assert.throws(construct, (error: unknown) => {
        assert.ok(error instanceof ValidationError, String(error));
        assert.match(error.message, /^PostgresStateStorage: /);
        return true;
      });
    });
  }

  it('accepts the longest names allowed, and exposes schema and table', () => {
    const options: PostgresStorageOptions = { schema: `s${'x'.repeat(62)}`, table: `t${'x'.repeat(54)}` };
    const storage = new PostgresStateStorage(url, options);
    assert.equal(storage.schema, options.schema);
    assert.equal(storage.table, options.table);
    const defaults = new PostgresStateStorage(url);
    assert.deepEqual([defaults.schema, defaults.table], ['public', 'plugin_states']);
  });

  it('without the pg package: the root and the entry load, and opening says to install pg', async () => {
    const child = new Child([], { script: helperScript('postgres-without-pg.ts'), lineTimeoutMs: 30_000 });
    const outcome = await child.nextJson<Record<string, unknown>>();
    await child.finish();
    assert.deepEqual(outcome, {
      rootLoaded: true,
      pgHidden: true,
      storageError: true,
      code: 'STORAGE',
      message:
        'open: PostgresStateStorage needs the PostgreSQL driver, which is not installed: install pg (npm install pg).',
    });
  });
});

describe(`PostgresStateStorage compression (${fixture.title})`, () => {
  it('stores data with LZ4 where the server has it (pglz made 1 MB saves 3× slower), else the default', async () => {
    const storage = await fixture.storage({}, 'compressed_states');
    after(() => storage.close());
    await storage.open();
    const db = await admin();
    const {
      rows: [setting],
    } = await db.query<{ enumvals: string[] | null }>(
      `SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'`,
    );
    const serverHasLz4 = Boolean(setting?.enumvals?.includes('lz4'));
    const {
      rows: [column],
    } = await db.query<{ attcompression: string }>(
      `SELECT attcompression FROM pg_attribute
        WHERE attrelid = $1::regclass AND attname = 'data'`,
      [`"${fixture.schema}"."compressed_states"`],
    );
    assert.equal(column?.attcompression, serverHasLz4 ? 'l' : '');
  });
});
