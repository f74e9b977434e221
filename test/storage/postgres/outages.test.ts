// The server unreachable at start or lost mid-run: typed errors naming host and port, within the
// configured timeouts, and recovery once the server answers again. The outage is simulated by a TCP
// proxy between the storage and the server; the shared server itself is never stopped.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { type PluginState, type StateReport, StorageError } from '../../../src/index.js';
import { PostgresStateStorage, type PostgresStorageOptions } from '../../../src/storage/postgres/index.js';
import { TcpProxy } from '../../helpers/postgres-proxy.js';
import { PostgresFixture } from '../../helpers/postgres-server.js';

const fixture = new PostgresFixture();
after(() => fixture.cleanup());

const TIMEOUTS = { connectTimeoutMs: 800, queryTimeoutMs: 1_200 };
/** The longest any operation may take: both timeouts, the backstop margin, and scheduling slack. */
const WITHIN_MS = TIMEOUTS.connectTimeoutMs + TIMEOUTS.queryTimeoutMs + 1_000 + 1_000;

/** A port on this machine that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Waits until `condition` holds, polling, for at most 2 s. */
async function until(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > 2_000) assert.fail('the condition did not hold within 2 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const stateOf = (pluginId: string, data: PluginState['data']): PluginState => ({
  pluginId,
  data,
  lastModified: new Date(),
});

/** Runs `operation`, expects a StorageError naming `hostPort` within WITHIN_MS, and returns it. */
async function failsReachably(
  what: string,
  hostPort: string,
  operation: () => Promise<unknown>,
): Promise<StorageError> {
  const started = performance.now();
  let error: unknown;
  try {
    await operation();
  } catch (caught) {
    error = caught;
  }
  const elapsed = performance.now() - started;
  assert.ok(error instanceof StorageError, `${what}: expected a StorageError, got ${String(error)}`);
  assert.equal(error.code, 'STORAGE');
  assert.ok(error.message.includes(hostPort), `${what}: the message names ${hostPort}: ${error.message}`);
  assert.match(error.message, /running and reachable/, `${what}: the message says what to do`);
  assert.ok(elapsed < WITHIN_MS, `${what}: failed after ${Math.round(elapsed)} ms, limit ${WITHIN_MS} ms`);
  return error;
}

async function throughProxy(
  options: PostgresStorageOptions = {},
): Promise<{ proxy: TcpProxy; storage: PostgresStateStorage; reports: StateReport[] }> {
  const server = await fixture.server();
  const proxy = await TcpProxy.start(server.host, server.port);
  const reports: StateReport[] = [];
  const storage = new PostgresStateStorage(proxy.urlFor(server.url), {
    schema: fixture.schema,
    table: `outage_${randomUUID().slice(0, 8)}`,
    ...TIMEOUTS,
    onReport: (report) => reports.push(report),
    ...options,
  });
  return { proxy, storage, reports };
}

describe(`PostgresStateStorage with the server unreachable on ${fixture.title}`, () => {
  it('server down at start (a closed port): every operation is a StorageError naming host and port', async () => {
    const port = await closedPort();
    const storage = new PostgresStateStorage(`postgres://postgres@127.0.0.1:${port}/test`, {
      schema: fixture.schema,
      ...TIMEOUTS,
    });
    const where = `127.0.0.1:${port}`;
    const id = randomUUID();
    const error = await failsReachably('open', where, () => storage.open());
    assert.match(error.message, /ECONNREFUSED/);
    await failsReachably('saveState', where, () => storage.saveState(stateOf(id, 1)));
    await failsReachably('loadState', where, () => storage.loadState(id));
    await failsReachably('listStates', where, () => storage.listStates());
    await failsReachably('deleteState', where, () => storage.deleteState(id));
    await storage.close();
  });

  it('server down at start, then up: the same instance works once it answers', async () => {
    const { proxy, storage } = await throughProxy();
    try {
      proxy.setMode('refuse');
      await failsReachably('saveState while refused', `127.0.0.1:${proxy.port}`, () =>
        storage.saveState(stateOf(randomUUID(), 'lost')),
      );
      proxy.setMode('forward');
      const id = randomUUID();
      assert.equal((await storage.saveState(stateOf(id, 'saved'))).revision, 1);
      assert.equal((await storage.loadState(id))?.data, 'saved');
    } finally {
      await storage.close();
      await proxy.close();
    }
  });

  it('a server that accepts but never answers at start: a StorageError within connectTimeoutMs', async () => {
    const { proxy, storage } = await throughProxy();
    try {
      proxy.setMode('blackhole');
      const error = await failsReachably('open while silent', `127.0.0.1:${proxy.port}`, () =>
        storage.open(),
      );
      assert.match(error.message, /timeout/i);
    } finally {
      await storage.close();
      await proxy.close();
    }
  });

  for (const mode of ['blackhole', 'refuse'] as const) {
    const outage = mode === 'blackhole' ? 'the network goes silent' : 'every connection is reset';
    it(`outage mid-run (${outage}): operations fail within the timeout, then work again`, async () => {
      const { proxy, storage, reports } = await throughProxy();
      const hostPort = `127.0.0.1:${proxy.port}`;
      try {
        const id = randomUUID();
        const before = await storage.saveState(stateOf(id, { step: 'before' }));
        // Several pooled connections (distinct ids run in parallel), so idle ones are hit too.
        await Promise.all(Array.from({ length: 4 }, () => storage.loadState(randomUUID())));
        assert.ok(proxy.open >= 1);

        proxy.setMode(mode);
        if (mode === 'refuse') {
          // Idle pooled connections that die are reported, not thrown (and never crash the host).
          await until(() => reports.some((report) => report.operation === 'connection'));
          const report = reports.find((report) => report.operation === 'connection')!;
          assert.ok(report.message.includes(hostPort), report.message);
          assert.equal(report.code, 'STORAGE');
        }
        const save = await failsReachably('saveState during the outage', hostPort, () =>
          storage.saveState(stateOf(id, { step: 'during' }), { expectedRevision: before.revision }),
        );
        if (mode === 'blackhole') {
          assert.match(save.message, /may or may not have been applied/, 'a cut-off write says so');
        }
        await failsReachably('loadState during the outage', hostPort, () => storage.loadState(id));
        await failsReachably('listStates during the outage', hostPort, () => storage.listStates());

        proxy.setMode('forward');
        const loaded = await storage.loadState(id);
        // The proxy dropped the bytes of the save that failed: it never reached the server.
        assert.deepEqual(loaded?.data, { step: 'before' });
        const after = await storage.saveState(stateOf(id, { step: 'after' }), {
          expectedRevision: loaded?.revision,
        });
        assert.equal(after.revision, 2);
        assert.deepEqual(
          (await storage.listStates()).map((state) => state.data),
          [{ step: 'after' }],
        );
      } finally {
        await storage.close();
        await proxy.close();
      }
    });
  }

  it("a host's pool without any timeout still cannot hang an operation", async () => {
    const server = await fixture.server();
    const proxy = await TcpProxy.start(server.host, server.port);
    // No connectionTimeoutMillis, no query_timeout: node-postgres would wait forever by itself.
    const pool = new pg.Pool({ connectionString: proxy.urlFor(server.url), max: 2 });
    pool.on('error', () => undefined);
    const storage = new PostgresStateStorage(pool, {
      schema: fixture.schema,
      table: 'host_pool',
      ...TIMEOUTS,
    });
    try {
      const id = randomUUID();
      await storage.saveState(stateOf(id, 'kept'));
      proxy.setMode('blackhole');
      await failsReachably('saveState on a silent host pool', `127.0.0.1:${proxy.port}`, () =>
        storage.saveState(stateOf(id, 'lost')),
      );
      proxy.setMode('forward');
      assert.equal((await storage.loadState(id))?.data, 'kept');
    } finally {
      await storage.close();
      await pool.end();
      await proxy.close();
    }
  });
});
