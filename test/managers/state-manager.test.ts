import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BatchError,
  MemoryStateStorage,
  PluginStateManager,
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
  tempDir,
} from './fixtures.js';

describe('PluginStateManager: one plugin', () => {
  it('round-trips a plugin state through save and load', async () => {
    const manager = PluginStateManager.withMemoryStorage();
    const saved = new CounterPlugin('editor', 7);
    saved.label = 'ünïcode ✓';
    await manager.saveState(saved);

    const restored = new CounterPlugin('editor', 0);
    await manager.loadState(restored);
    assert.equal(restored.count, 7);
    assert.equal(restored.label, 'ünïcode ✓');
    assert.deepEqual(restored.restored, [{ count: 7, label: 'ünïcode ✓' }]);
  });

  it('leaves the plugin untouched when nothing is stored', async () => {
    const manager = PluginStateManager.withMemoryStorage();
    const plugin = new CounterPlugin('fresh', 3);
    await manager.loadState(plugin);
    assert.equal(plugin.count, 3);
    assert.deepEqual(plugin.restored, [], 'setState must not be called');
  });

  it('stamps lastModified with the time of the save, and the storage counts revisions', async () => {
    const manager = PluginStateManager.withMemoryStorage();
    const plugin = new CounterPlugin('stamped', 1);
    const before = Date.now();
    await manager.saveState(plugin);
    const after = Date.now();
    const first = await manager.loadPluginState(plugin.id);
    assert.ok(first);
    assert.ok(first.lastModified instanceof Date);
    assert.ok(first.lastModified.getTime() >= before && first.lastModified.getTime() <= after);
    assert.equal(first.revision, 1);

    plugin.count = 2;
    await manager.saveState(plugin);
    const second = await manager.loadPluginState(plugin.id);
    assert.equal(second?.revision, 2);
    assert.deepEqual(second?.data, { count: 2, label: 'label of stamped' });
    assert.ok(second!.lastModified.getTime() >= first.lastModified.getTime());
  });

  it('uses the lower-case id of a plugin whose id is upper-case', async () => {
    const manager = PluginStateManager.withMemoryStorage();
    const lower = pluginIdFromName('shouting');
    await manager.saveState(new CounterPlugin('shouting', 4, lower.toUpperCase()));
    const state = await manager.loadPluginState(lower);
    assert.equal(state?.pluginId, lower);
    assert.deepEqual(state?.data, { count: 4, label: 'label of shouting' });
  });

  it("rethrows a plugin's own getState error unchanged, reports it, and stores nothing", async () => {
    const { reports, onReport } = reportCollector();
    const manager = PluginStateManager.withMemoryStorage({ onReport });
    const boom = new Error('disk of the plugin is gone');
    const plugin = failingGetState('broken', boom);
    await assert.rejects(manager.saveState(plugin), (error) => error === boom);
    assert.equal(await manager.loadPluginState(plugin.id), undefined);
    assert.equal(reports.length, 1);
    assert.equal(reports[0]!.operation, 'saveState');
    assert.equal(reports[0]!.pluginId, plugin.id);
    assert.equal(reports[0]!.error, boom);
    assert.equal(reports[0]!.recovered, false);
    assert.match(
      reports[0]!.message,
      new RegExp(`saveState of plugin ${plugin.id}.*disk of the plugin is gone`),
    );
  });

  it('refuses data that is not JSON with a ValidationError naming the plugin, storing nothing', async () => {
    const { reports, onReport } = reportCollector();
    const manager = PluginStateManager.withMemoryStorage({ onReport });
    const plugin = functionDataPlugin('callbacks');
    await assert.rejects(manager.saveState(plugin), (error) => {
      assert.ok(error instanceof ValidationError);
      assert.equal(error.pluginId, plugin.id);
      assert.match(error.message, new RegExp(plugin.id));
      assert.match(error.message, /function/);
      return true;
    });
    assert.equal(await manager.loadPluginState(plugin.id), undefined);
    assert.equal(reports[0]?.code, 'VALIDATION');
  });

  it("rethrows a plugin's own setState error unchanged", async () => {
    const manager = PluginStateManager.withMemoryStorage();
    const boom = new Error('cannot apply');
    const plugin = failingSetState('picky', boom);
    await manager.saveState(plugin);
    await assert.rejects(manager.loadState(plugin), (error) => error === boom);
  });

  it('refuses a plugin with a bad id or without setState before running any plugin code', async () => {
    const manager = PluginStateManager.withMemoryStorage();
    const calls: string[] = [];
    const getState = () => {
      calls.push('get');
      return 1;
    };
    const badId = { id: 'not-a-uuid', getState, setState: () => void calls.push('set') };
    await assert.rejects(manager.saveState(badId), ValidationError);
    await assert.rejects(manager.loadState(badId), ValidationError);
    const noSetState = { id: pluginIdFromName('half'), getState };
    await assert.rejects(
      manager.saveState(noSetState as never),
      (error) => error instanceof ValidationError && /has no setState function/.test(error.message),
    );
    assert.deepEqual(calls, []);
  });

  it('refuses a storage that is not a PluginStateStorage', () => {
    assert.throws(() => new PluginStateManager({} as never), ValidationError);
  });
});

describe('PluginStateManager: many plugins', () => {
  it('saveAllStates saves every good plugin and throws one BatchError listing exactly the failed ones', async () => {
    const { reports, onReport } = reportCollector();
    const manager = PluginStateManager.withMemoryStorage({ onReport });
    const boom = new Error('getState exploded');
    const good1 = new CounterPlugin('good-1', 1);
    const bad1 = failingGetState('bad-get', boom);
    const good2 = new CounterPlugin('good-2', 2);
    const bad2 = functionDataPlugin('bad-data');

    await assert.rejects(manager.saveAllStates([good1, bad1, good2, bad2]), (error) => {
      assert.ok(error instanceof BatchError);
      assert.equal(error.code, 'BATCH');
      assert.deepEqual(
        error.failures.map((f) => f.pluginId),
        [bad1.id, bad2.id],
      );
      assert.equal(error.failures[0]!.error, boom);
      assert.ok(error.failures[1]!.error instanceof ValidationError);
      assert.match(error.message, /saveAllStates: 2 of 4 plugins failed/);
      assert.match(error.message, new RegExp(bad1.id));
      return true;
    });
    assert.deepEqual((await manager.loadPluginState(good1.id))?.data, { count: 1, label: 'label of good-1' });
    assert.deepEqual((await manager.loadPluginState(good2.id))?.data, { count: 2, label: 'label of good-2' });
    assert.equal((await manager.listPluginStates()).length, 2);
    assert.deepEqual(
      reports.map((r) => [r.operation, r.pluginId]),
      [
        ['saveAllStates', bad1.id],
        ['saveAllStates', bad2.id],
      ],
    );
  });

  it('saveAllStates resolves when every plugin succeeds', async () => {
    const manager = PluginStateManager.withMemoryStorage();
    await manager.saveAllStates([new CounterPlugin('a', 1), new CounterPlugin('b', 2)]);
    assert.equal((await manager.listPluginStates()).length, 2);
  });

  it('loadAllStates loads every other plugin when one setState fails', async () => {
    const manager = PluginStateManager.withMemoryStorage();
    const good = new CounterPlugin('loads', 5);
    const boom = new Error('setState exploded');
    const bad = failingSetState('refuses', boom);
    const unsaved = new CounterPlugin('never-saved', 9);
    await manager.saveAllStates([good, bad]);

    const fresh = new CounterPlugin('loads', 0);
    await assert.rejects(manager.loadAllStates([bad, fresh, unsaved]), (error) => {
      assert.ok(error instanceof BatchError);
      assert.deepEqual(error.failures, [{ pluginId: bad.id, error: boom }]);
      return true;
    });
    assert.equal(fresh.count, 5);
    assert.deepEqual(unsaved.restored, [], 'a plugin with nothing stored is left untouched');
    assert.equal(unsaved.count, 9);
  });

  it('lists a plugin with an invalid id in the BatchError under the id it gave', async () => {
    const manager = PluginStateManager.withMemoryStorage();
    const bad = { id: 'plugin-42', getState: () => 1, setState: () => {} };
    await assert.rejects(manager.saveAllStates([bad, new CounterPlugin('fine')]), (error) => {
      assert.ok(error instanceof BatchError);
      assert.equal(error.failures.length, 1);
      assert.equal(error.failures[0]!.pluginId, 'plugin-42');
      assert.ok(error.failures[0]!.error instanceof ValidationError);
      return true;
    });
  });
});

describe('PluginStateManager: onReport', () => {
  it('a throwing hook breaks neither successes nor the errors callers receive', async () => {
    const { reports, onReport } = reportCollector(true);
    const manager = PluginStateManager.withMemoryStorage({ onReport });
    const good = new CounterPlugin('calm', 1);
    await manager.saveState(good);

    const boom = new Error('plugin failure');
    const bad = failingGetState('noisy', boom);
    await assert.rejects(manager.saveState(bad), (error) => error === boom);
    await assert.rejects(manager.saveAllStates([good, bad]), (error) => {
      assert.ok(error instanceof BatchError);
      assert.deepEqual(
        error.failures.map((f) => f.pluginId),
        [bad.id],
      );
      return true;
    });
    assert.equal(reports.length, 2, 'the hook was still called for each failure');
    const restored = new CounterPlugin('calm');
    await manager.loadState(restored);
    assert.equal(restored.count, 1);
  });

  it('reports failures of the direct state methods', async () => {
    const { reports, onReport } = reportCollector();
    const storage = new MemoryStateStorage();
    const manager = new PluginStateManager(storage, { onReport });
    await assert.rejects(manager.loadPluginState('bad id'), ValidationError);
    await storage.close();
    await assert.rejects(manager.listPluginStates(), StorageError);
    assert.deepEqual(
      reports.map((r) => [r.operation, r.code]),
      [
        ['loadPluginState', 'VALIDATION'],
        ['listPluginStates', 'STORAGE'],
      ],
    );
  });
});

describe('PluginStateManager: direct state records', () => {
  it('saves, loads, lists and deletes records as given', async () => {
    const manager = PluginStateManager.withMemoryStorage();
    const id = pluginIdFromName('record');
    const when = new Date('2024-05-01T10:00:00.000Z');
    await manager.savePluginState({
      pluginId: id.toUpperCase(),
      data: { a: [1, 'x', null] },
      lastModified: when,
    });
    const state = await manager.loadPluginState(id);
    assert.deepEqual(state?.data, { a: [1, 'x', null] });
    assert.equal(state?.lastModified.getTime(), when.getTime());
    assert.deepEqual(
      (await manager.listPluginStates()).map((s) => s.pluginId),
      [id],
    );

    await manager.deletePluginState(id);
    assert.equal(await manager.loadPluginState(id), undefined);
    await manager.savePluginState({ pluginId: id, data: 1, lastModified: when });
    await manager.deleteState(id);
    assert.equal(await manager.loadPluginState(id), undefined);
    await manager.deleteState(id); // deleting a missing state is not an error
  });
});

describe('PluginStateManager.withFileStorage', () => {
  it('persists states across manager instances on the same folder', async () => {
    const dir = tempDir();
    const first = PluginStateManager.withFileStorage(dir);
    await first.saveAllStates([new CounterPlugin('disk-a', 11), new CounterPlugin('disk-b', 22)]);

    const second = PluginStateManager.withFileStorage(dir);
    const a = new CounterPlugin('disk-a');
    const b = new CounterPlugin('disk-b');
    await second.loadAllStates([a, b]);
    assert.equal(a.count, 11);
    assert.equal(b.count, 22);
    assert.equal((await second.listPluginStates()).length, 2);
  });
});

describe('PluginStateManager.close', () => {
  it('closes the storage once; later calls fail with a StorageError saying it is closed', async () => {
    const manager = PluginStateManager.withFileStorage(tempDir());
    const plugin = new CounterPlugin('closing', 5);
    await manager.saveState(plugin);
    await manager.close();
    await manager.close(); // idempotent
    await assert.rejects(manager.saveState(plugin), (error: unknown) => {
      assert.ok(error instanceof StorageError);
      assert.match(error.message, /closed/);
      return true;
    });
  });
});
