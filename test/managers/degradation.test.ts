// Graceful degradation of PluginManager: while the storage fails, plugins keep running on their last
// known state, saves fail loudly (nothing unsaved is acknowledged), the manager reports itself
// degraded; once the storage answers, it says so and saves again what failed meanwhile.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import {
  BatchError,
  type FileSystemApi,
  FileSystemStateStorage,
  type JsonValue,
  nodeFileSystem,
  type Plugin,
  PluginManager,
  pluginIdFromName,
  type StateReport,
  StorageError,
} from '../../src/index.js';
import { PostgresStateStorage } from '../../src/storage/postgres/index.js';
import { TcpProxy } from '../helpers/postgres-proxy.js';
import { PostgresFixture } from '../helpers/postgres-server.js';
import { tempDir } from '../helpers/temp-dir.js';

/** node:fs, except that every call fails with EIO while `down` is set: a dead disk or mount. */
function switchableFs(): { fs: FileSystemApi; outage: { down: boolean } } {
  const outage = { down: false };
  const fs = Object.fromEntries(
    Object.entries(nodeFileSystem).map(([name, call]) => [
      name,
      (...args: unknown[]) => {
        if (outage.down && name !== 'closeSync') {
          throw Object.assign(new Error(`EIO: i/o error, ${name}`), { code: 'EIO', syscall: name });
        }
        return (call as (...a: unknown[]) => unknown)(...args);
      },
    ]),
  ) as unknown as FileSystemApi;
  return { fs, outage };
}

class Counter implements Plugin {
  readonly id: string;
  count = 0;
  constructor(name: string) {
    this.id = pluginIdFromName(name);
  }
  getState(): JsonValue {
    return { count: this.count };
  }
  setState(data: JsonValue): void {
    this.count = (data as { count: number }).count;
  }
}

async function until(
  what: string,
  condition: () => boolean | Promise<boolean>,
  withinMs = 10_000,
): Promise<void> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > withinMs) assert.fail(`${what} did not happen within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('PluginManager when its file storage fails', () => {
  it('degrades, fails saves loudly, keeps plugins running, then recovers and saves what failed', async (t) => {
    const dir = tempDir(t);
    const { fs, outage } = switchableFs();
    const reports: StateReport[] = [];
    const manager = PluginManager.withStateStorage(new FileSystemStateStorage(dir, { fs }), {
      onReport: (r) => reports.push(r),
      storageProbeIntervalMs: 20,
    });
    t.after(() => manager.shutdown().catch(() => undefined));
    const a = new Counter('degrade-a');
    const b = new Counter('degrade-b');
    manager.registerPlugin(a);
    manager.registerPlugin(b);
    a.count = 1;
    b.count = 1;
    await manager.saveAllPluginStates();
    assert.equal(manager.health().status, 'ok');

    outage.down = true;
    a.count = 2;
    await assert.rejects(
      manager.savePluginState(a.id),
      StorageError,
      'a save during the outage fails loudly',
    );
    const degraded = manager.health();
    assert.equal(degraded.status, 'degraded');
    assert.ok(degraded.since instanceof Date);
    assert.ok(degraded.lastError instanceof StorageError);
    assert.deepEqual(degraded.pendingSaves, [a.id]);
    assert.equal(reports.filter((r) => r.operation === 'degraded').length, 1);

    // Loads fail too, and leave each plugin running on its last known state.
    await assert.rejects(manager.loadAllPluginStates(), BatchError);
    assert.equal(a.count, 2, 'a plugin keeps its in-memory state');
    b.count = 5;
    await assert.rejects(manager.saveAllPluginStates(), BatchError);
    assert.deepEqual(manager.health().pendingSaves.sort(), [a.id, b.id].sort());
    assert.equal(reports.filter((r) => r.operation === 'degraded').length, 1, 'reported once per outage');

    outage.down = false;
    await until('recovery', () => manager.health().status === 'ok');
    await until(
      'the pending saves',
      async () => ((await manager.getPluginState(b.id))?.data as { count: number })?.count === 5,
    );
    assert.deepEqual(
      (await manager.getPluginState(a.id))?.data,
      { count: 2 },
      'the failed save was made again',
    );
    assert.deepEqual(manager.health().pendingSaves, []);
    const recovered = reports.find((r) => r.operation === 'recovered');
    assert.ok(recovered?.recovered, 'the recovery is reported');
    assert.match(recovered.message, /saving the 2 plugin\(s\)/);
  });

  it('errors that do not concern the storage do not degrade it', async (t) => {
    const manager = PluginManager.withStateStorage(new FileSystemStateStorage(tempDir(t)));
    t.after(() => manager.shutdown().catch(() => undefined)); // its plugin's state is still not JSON
    const plugin: Plugin = {
      id: randomUUID(),
      getState: () => ({ f: undefined }) as unknown as JsonValue,
      setState: () => {},
    };
    manager.registerPlugin(plugin);
    await assert.rejects(manager.savePluginState(plugin.id));
    assert.equal(manager.health().status, 'ok');
  });

  it('checkStorage() probes at once, and a degraded storage does not keep the process alive', async (t) => {
    const dir = tempDir(t);
    const { fs, outage } = switchableFs();
    const manager = PluginManager.withStateStorage(new FileSystemStateStorage(dir, { fs }), {
      storageProbeIntervalMs: 60_000,
    });
    t.after(() => manager.shutdown().catch(() => undefined));
    const plugin = new Counter('check-now');
    manager.registerPlugin(plugin);
    outage.down = true;
    await assert.rejects(manager.savePluginState(plugin.id));
    assert.equal((await manager.checkStorage()).status, 'degraded', 'still down');
    outage.down = false;
    const health = await manager.checkStorage();
    assert.equal(health.status, 'ok');
    assert.deepEqual(health.pendingSaves, []);
    assert.deepEqual((await manager.getPluginState(plugin.id))?.data, { count: 0 });
  });
});

const fixture = new PostgresFixture();
after(() => fixture.cleanup());

describe(`PluginManager when PostgreSQL goes away on ${fixture.title}`, () => {
  it('degrades during the outage and recovers with the saves that failed', async () => {
    const server = await fixture.server();
    const proxy = await TcpProxy.start(server.host, server.port);
    const reports: StateReport[] = [];
    const storage = new PostgresStateStorage(proxy.urlFor(server.url), {
      schema: fixture.schema,
      table: `degrade_${randomUUID().slice(0, 8)}`,
      connectTimeoutMs: 800,
      queryTimeoutMs: 1_200,
    });
    const manager = PluginManager.withStateStorage(storage, {
      onReport: (r) => reports.push(r),
      storageProbeIntervalMs: 50,
      retry: { attempts: 2, minDelayMs: 10 },
    });
    try {
      const plugin = new Counter('pg-degrade');
      manager.registerPlugin(plugin);
      await manager.saveAllPluginStates();
      proxy.setMode('refuse');
      plugin.count = 7;
      await assert.rejects(manager.savePluginState(plugin.id), StorageError);
      assert.equal(manager.health().status, 'degraded');
      proxy.setMode('forward');
      await until('recovery', () => manager.health().status === 'ok');
      await until(
        'the pending save',
        async () =>
          ((await manager.getPluginState(plugin.id))?.data as { count?: number } | undefined)?.count === 7,
      );
      assert.ok(reports.some((r) => r.operation === 'recovered'));
    } finally {
      await manager.shutdown().catch(() => undefined);
      await proxy.close();
    }
  });
});
