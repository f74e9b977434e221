// retrying() against real transient failures: a SQLite database locked by another connection, and a
// PostgreSQL server that refuses connections for a while (a TCP proxy the test controls, in front of
// the machine's server, which itself is never stopped).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { type PluginState, retrying, type StateReport, StorageError } from '../../../src/index.js';
import { PostgresStateStorage } from '../../../src/storage/postgres/index.js';
import { SqliteStateStorage } from '../../../src/storage/sqlite/index.js';
import { TcpProxy } from '../../helpers/postgres-proxy.js';
import { PostgresFixture } from '../../helpers/postgres-server.js';
import { tempDir } from '../../helpers/temp-dir.js';

const stateOf = (pluginId: string, data: PluginState['data']): PluginState => ({
  pluginId,
  data,
  lastModified: new Date(),
});

describe('retrying() with a locked SQLite database', () => {
  it('a save that meets SQLITE_BUSY waits out the lock, and without retrying it fails', async (t) => {
    const path = join(tempDir(t), 'states.db');
    const id = randomUUID();
    const plain = new SqliteStateStorage(path, { busyTimeoutMs: 30 });
    await plain.saveState(stateOf(id, 'before'));
    const reports: StateReport[] = [];
    const storage = retrying(new SqliteStateStorage(path, { busyTimeoutMs: 30 }), {
      attempts: 30,
      minDelayMs: 10,
      maxDelayMs: 50,
      onReport: (r) => reports.push(r),
    });
    t.after(() => Promise.all([plain.close(), storage.close?.()]));
    await storage.open?.();

    const holder = new Database(path);
    holder.exec('BEGIN EXCLUSIVE');
    await assert.rejects(plain.saveState(stateOf(id, 'refused')), StorageError);
    const release = setTimeout(() => holder.exec('COMMIT'), 250);
    try {
      const saved = await storage.saveState(stateOf(id, 'after the lock'));
      assert.equal(saved.revision, 2);
    } finally {
      clearTimeout(release);
      if (holder.inTransaction) holder.exec('COMMIT');
      holder.close();
    }
    assert.ok(reports.filter((r) => r.recovered === false).length >= 1, 'the retries were reported');
    assert.equal(reports.at(-1)?.recovered, true);
    assert.deepEqual((await plain.loadState(id))?.data, 'after the lock');
  });
});

const fixture = new PostgresFixture();
after(() => fixture.cleanup());

describe(`retrying() with PostgreSQL refusing connections on ${fixture.title}`, () => {
  it('an operation started during an outage succeeds once the server answers again', async () => {
    const server = await fixture.server();
    const proxy = await TcpProxy.start(server.host, server.port);
    const reports: StateReport[] = [];
    const inner = new PostgresStateStorage(proxy.urlFor(server.url), {
      schema: fixture.schema,
      table: `retry_${randomUUID().slice(0, 8)}`,
      connectTimeoutMs: 800,
      queryTimeoutMs: 1_200,
    });
    const storage = retrying(inner, {
      attempts: 40,
      minDelayMs: 20,
      maxDelayMs: 100,
      deadlineMs: 20_000,
      onReport: (r) => reports.push(r),
    });
    try {
      const id = randomUUID();
      await storage.saveState(stateOf(id, 'before the outage'));
      proxy.setMode('refuse');
      const saving = storage.saveState(stateOf(id, 'during the outage'));
      setTimeout(() => proxy.setMode('forward'), 400);
      const saved = await saving;
      assert.equal(saved.revision, 2);
      assert.ok(
        reports.some((r) => r.recovered === false && /trying again/.test(r.message)),
        'retries reported',
      );
      assert.equal(reports.at(-1)?.recovered, true);
      assert.deepEqual((await storage.loadState(id))?.data, 'during the outage');
    } finally {
      await storage.close?.();
      await proxy.close();
    }
  });
});
