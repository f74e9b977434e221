import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BatchError,
  FileSystemStateStorage,
  MemoryStateStorage,
  PluginManager,
  pluginIdFromName,
  StorageError,
  ValidationError,
} from '../../src/index.js';
import {
  CounterPlugin,
  failingGetState,
  failingSetState,
  functionDataPlugin,
  reportCollector,
  SpyStorage,
  tempDir,
} from './fixtures.js';

function isShutDownError(operation: string) {
  return (error: unknown) => {
    assert.ok(error instanceof StorageError, `expected a StorageError, got ${String(error)}`);
    assert.match(error.message, new RegExp(`^${operation}: this PluginManager has been shut down`));
    return true;
  };
}

describe('PluginManager: registration', () => {
  it('registers, finds (any case), lists in order and unregisters plugins', () => {
    const manager = PluginManager.withStateStorage(new MemoryStateStorage());
    const a = new CounterPlugin('reg-a');
    const b = new CounterPlugin('reg-b');
    manager.registerPlugin(a);
    manager.registerPlugin(b);
    assert.equal(manager.getPlugin(a.id), a);
    assert.equal(manager.getPlugin(a.id.toUpperCase()), a);
    assert.deepEqual(manager.listPlugins(), [a, b]);

    manager.unregisterPlugin(a.id.toUpperCase());
    assert.equal(manager.getPlugin(a.id), undefined);
    assert.deepEqual(manager.listPlugins(), [b]);
    manager.unregisterPlugin(a.id); // not registered any more: not an error
  });

  it('stores an upper-case id under its lower-case form, so a same-id plugin in another case is a duplicate', () => {
    const manager = PluginManager.withStateStorage(new MemoryStateStorage());
    const id = pluginIdFromName('dup');
    manager.registerPlugin(new CounterPlugin('dup', 0, id.toUpperCase()));
    assert.ok(manager.getPlugin(id));
    assert.throws(
      () => manager.registerPlugin(new CounterPlugin('dup-again', 0, id)),
      (error) => {
        assert.ok(error instanceof ValidationError);
        assert.match(error.message, new RegExp(`registerPlugin: plugin ${id} is already registered`));
        assert.match(error.message, /unregisterPlugin/);
        return true;
      },
    );
    assert.equal(manager.listPlugins().length, 1);
  });

  it('refuses a plugin whose id is not a UUID, or that lacks getState or setState', () => {
    const { reports, onReport } = reportCollector();
    const manager = PluginManager.withStateStorage(new MemoryStateStorage(), { onReport });
    const noop = () => {};
    assert.throws(
      () => manager.registerPlugin({ id: 'my-plugin', getState: () => 1, setState: noop }),
      ValidationError,
    );
    assert.throws(
      () => manager.registerPlugin({ id: pluginIdFromName('x'), setState: noop } as never),
      /has no getState function/,
    );
    assert.throws(
      () => manager.registerPlugin({ id: pluginIdFromName('y'), getState: () => 1 } as never),
      /has no setState function/,
    );
    assert.throws(() => manager.registerPlugin(null as never), ValidationError);
    assert.deepEqual(manager.listPlugins(), []);
    assert.equal(reports.length, 4);
    assert.ok(reports.every((r) => r.operation === 'registerPlugin' && r.code === 'VALIDATION'));
    assert.throws(() => manager.getPlugin('nope'), ValidationError);
  });
});

describe('PluginManager: one plugin', () => {
  it('saves and loads a registered plugin by id', async () => {
    const manager = PluginManager.withStateStorage(new MemoryStateStorage());
    const plugin = new CounterPlugin('single', 8);
    manager.registerPlugin(plugin);
    await manager.savePluginState(plugin.id.toUpperCase());
    assert.deepEqual((await manager.getPluginState(plugin.id))?.data, { count: 8, label: 'label of single' });

    plugin.count = 0;
    await manager.loadPluginState(plugin.id);
    assert.equal(plugin.count, 8);
  });

  it('refuses an unregistered id with a ValidationError naming it and saying to register first', async () => {
    const { reports, onReport } = reportCollector();
    const manager = PluginManager.withStateStorage(new MemoryStateStorage(), { onReport });
    const id = pluginIdFromName('stranger');
    for (const operation of ['loadPluginState', 'savePluginState'] as const) {
      await assert.rejects(manager[operation](id), (error) => {
        assert.ok(error instanceof ValidationError);
        assert.equal(error.pluginId, id);
        assert.match(error.message, new RegExp(`^${operation}: plugin ${id} is not registered`));
        assert.match(error.message, /registerPlugin\(plugin\) first/);
        return true;
      });
    }
    assert.deepEqual(
      reports.map((r) => [r.operation, r.pluginId, r.code]),
      [
        ['loadPluginState', id, 'VALIDATION'],
        ['savePluginState', id, 'VALIDATION'],
      ],
    );
  });

  it("rethrows a registered plugin's own error unchanged", async () => {
    const manager = PluginManager.withStateStorage(new MemoryStateStorage());
    const boom = new Error('no state today');
    const plugin = failingGetState('grumpy', boom);
    manager.registerPlugin(plugin);
    await assert.rejects(manager.savePluginState(plugin.id), (error) => error === boom);
  });

  it('gets, sets, lists and deletes state records, registered or not', async () => {
    const manager = PluginManager.withStateStorage(new MemoryStateStorage());
    const id = pluginIdFromName('record-only');
    assert.equal(await manager.getPluginState(id), undefined);
    await manager.setPluginState({ pluginId: id, data: { on: true }, lastModified: new Date(0) });
    const state = await manager.getPluginState(id);
    assert.deepEqual(state?.data, { on: true });
    assert.equal(state?.lastModified.getTime(), 0);
    assert.deepEqual(
      (await manager.listPluginStates()).map((s) => s.pluginId),
      [id],
    );
    await manager.deletePluginState(id);
    assert.equal(await manager.getPluginState(id), undefined);
    await assert.rejects(
      manager.setPluginState({ pluginId: id, data: { when: new Date() } as never, lastModified: new Date() }),
      ValidationError,
    );
  });
});

describe('PluginManager: all plugins', () => {
  it('saveAllPluginStates saves the others and lists exactly the failed plugin', async () => {
    const storage = new SpyStorage();
    const { reports, onReport } = reportCollector();
    const manager = PluginManager.withStateStorage(storage, { onReport });
    const a = new CounterPlugin('all-a', 1);
    const bad = functionDataPlugin('all-bad');
    const b = new CounterPlugin('all-b', 2);
    for (const plugin of [a, bad, b]) manager.registerPlugin(plugin);

    await assert.rejects(manager.saveAllPluginStates(), (error) => {
      assert.ok(error instanceof BatchError);
      assert.deepEqual(
        error.failures.map((f) => f.pluginId),
        [bad.id],
      );
      assert.match(error.message, /^saveAllPluginStates: 1 of 3 plugins failed/);
      return true;
    });
    assert.deepEqual(storage.savedIds(), [a.id, b.id].sort());
    assert.deepEqual(
      reports.map((r) => [r.operation, r.pluginId]),
      [['saveAllPluginStates', bad.id]],
    );
  });

  it('loadAllPluginStates loads the others and lists exactly the failed plugin', async () => {
    const manager = PluginManager.withStateStorage(new MemoryStateStorage());
    const a = new CounterPlugin('load-a', 3);
    const boom = new Error('cannot restore');
    const bad = failingSetState('load-bad', boom);
    manager.registerPlugin(a);
    manager.registerPlugin(bad);
    await manager.saveAllPluginStates();
    a.count = 0;

    await assert.rejects(manager.loadAllPluginStates(), (error) => {
      assert.ok(error instanceof BatchError);
      assert.deepEqual(error.failures, [{ pluginId: bad.id, error: boom }]);
      return true;
    });
    assert.equal(a.count, 3);
  });
});

describe('PluginManager: shutdown', () => {
  it('saves every registered plugin, closes the storage, is idempotent, and refuses later calls', async () => {
    const storage = new SpyStorage();
    const manager = PluginManager.withStateStorage(storage);
    const a = new CounterPlugin('bye-a', 1);
    const b = new CounterPlugin('bye-b', 2);
    manager.registerPlugin(a);
    manager.registerPlugin(b);

    await manager.shutdown();
    assert.deepEqual(storage.savedIds(), [a.id, b.id].sort());
    assert.deepEqual(storage.saved.find((s) => s.pluginId === b.id)?.data, {
      count: 2,
      label: 'label of bye-b',
    });
    assert.equal(storage.closes, 1);
    await assert.rejects(storage.inner.listStates(), StorageError); // really closed

    a.count = 99;
    await manager.shutdown();
    assert.equal(storage.saved.length, 2, 'a second shutdown saves nothing');
    assert.equal(storage.closes, 1, 'a second shutdown closes nothing');

    await assert.rejects(manager.savePluginState(a.id), isShutDownError('savePluginState'));
    await assert.rejects(manager.loadPluginState(a.id), isShutDownError('loadPluginState'));
    await assert.rejects(manager.getPluginState(a.id), isShutDownError('getPluginState'));
    await assert.rejects(
      manager.setPluginState({ pluginId: a.id, data: 1, lastModified: new Date() }),
      isShutDownError('setPluginState'),
    );
    await assert.rejects(manager.deletePluginState(a.id), isShutDownError('deletePluginState'));
    await assert.rejects(manager.listPluginStates(), isShutDownError('listPluginStates'));
    await assert.rejects(manager.saveAllPluginStates(), isShutDownError('saveAllPluginStates'));
    await assert.rejects(manager.loadAllPluginStates(), isShutDownError('loadAllPluginStates'));
    assert.throws(() => manager.registerPlugin(new CounterPlugin('late')), isShutDownError('registerPlugin'));
    assert.throws(() => manager.unregisterPlugin(a.id), isShutDownError('unregisterPlugin'));
    assert.throws(() => manager.getPlugin(a.id), isShutDownError('getPlugin'));
    assert.throws(() => manager.listPlugins(), isShutDownError('listPlugins'));
    assert.equal(storage.saved.length, 2);
  });

  it('refuses calls made while the shutdown is still saving', async () => {
    const storage = new SpyStorage();
    const manager = PluginManager.withStateStorage(storage);
    const plugin = new CounterPlugin('racing', 1);
    manager.registerPlugin(plugin);
    const closing = manager.shutdown();
    await assert.rejects(manager.savePluginState(plugin.id), isShutDownError('savePluginState'));
    await closing;
    assert.equal(storage.saved.length, 1);
  });

  it('with one failing plugin still saves the others and closes, then throws the same BatchError again', async () => {
    const storage = new SpyStorage();
    const { reports, onReport } = reportCollector(true);
    const manager = PluginManager.withStateStorage(storage, { onReport });
    const a = new CounterPlugin('end-a', 1);
    const boom = new Error('cannot serialize');
    const bad = failingGetState('end-bad', boom);
    const b = new CounterPlugin('end-b', 2);
    for (const plugin of [a, bad, b]) manager.registerPlugin(plugin);

    let first: unknown;
    await assert.rejects(manager.shutdown(), (error) => {
      first = error;
      assert.ok(error instanceof BatchError);
      assert.deepEqual(error.failures, [{ pluginId: bad.id, error: boom }]);
      assert.match(error.message, /^shutdown: 1 of 3 plugins failed/);
      return true;
    });
    assert.deepEqual(storage.savedIds(), [a.id, b.id].sort());
    assert.equal(storage.closes, 1);
    assert.deepEqual(
      reports.map((r) => [r.operation, r.pluginId]),
      [['shutdown', bad.id]],
    );

    await assert.rejects(manager.shutdown(), (error) => error === first);
    assert.equal(storage.saved.length, 2);
    assert.equal(storage.closes, 1);
  });

  it('throws a StorageError naming shutdown when closing the storage fails', async () => {
    const storage = new SpyStorage();
    storage.closeError = new Error('socket hung up');
    const { reports, onReport } = reportCollector();
    const manager = PluginManager.withStateStorage(storage, { onReport });
    manager.registerPlugin(new CounterPlugin('close-a', 1));
    await assert.rejects(manager.shutdown(), (error) => {
      assert.ok(error instanceof StorageError);
      assert.match(error.message, /^shutdown: closing the storage failed: socket hung up/);
      assert.equal(error.cause, storage.closeError);
      return true;
    });
    assert.equal(storage.saved.length, 1);
    assert.equal(reports[0]?.operation, 'shutdown');
    assert.equal(reports[0]?.code, 'STORAGE');
  });

  it('prefers the BatchError when saves and the close both fail, and reports the close failure', async () => {
    const storage = new SpyStorage();
    storage.closeError = new Error('socket hung up');
    const { reports, onReport } = reportCollector();
    const manager = PluginManager.withStateStorage(storage, { onReport });
    const bad = failingGetState('both-bad', new Error('nope'));
    manager.registerPlugin(bad);
    await assert.rejects(manager.shutdown(), BatchError);
    assert.deepEqual(
      reports.map((r) => [r.operation, r.pluginId, r.code]),
      [
        ['shutdown', bad.id, undefined],
        ['shutdown', undefined, 'STORAGE'],
      ],
    );
  });
});

describe('PluginManager.withFileStorage', () => {
  it('restores after a restart what shutdown saved', async () => {
    const dir = tempDir();
    const before = PluginManager.withFileStorage(dir);
    before.registerPlugin(new CounterPlugin('restart-a', 41));
    before.registerPlugin(new CounterPlugin('restart-b', 42));
    await before.shutdown();

    const after = PluginManager.withFileStorage(dir);
    const a = new CounterPlugin('restart-a');
    const b = new CounterPlugin('restart-b');
    const untouched = new CounterPlugin('restart-new', 5);
    for (const plugin of [a, b, untouched]) after.registerPlugin(plugin);
    await after.loadAllPluginStates();
    assert.equal(a.count, 41);
    assert.equal(b.count, 42);
    assert.deepEqual(untouched.restored, []);
    await after.shutdown();

    // The files are readable by a plain storage too: shutdown left nothing half-written.
    const storage = new FileSystemStateStorage(dir);
    assert.equal((await storage.listStates()).length, 3);
    await storage.close();
  });
});
