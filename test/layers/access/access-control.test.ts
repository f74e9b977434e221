import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ConflictError,
  MemoryStateStorage,
  PermissionError,
  PluginManager,
  PluginStateManager,
  type PluginStateStorage,
  StorageError,
  ValidationError,
} from '../../../src/index.js';
import { statesOnDisk } from '../../helpers/temp-dir.js';
import { accessReports, backends, editorId, secretsId, seed, themeId } from './fixtures.js';

/** Asserts a PermissionError whose message names the operation, the caller and the target. */
function permissionDenied(operation: string, caller: string, target: string) {
  return (error: unknown) => {
    assert.ok(error instanceof PermissionError, `expected a PermissionError, got ${String(error)}`);
    assert.equal(error.code, 'PERMISSION');
    assert.equal(error.operation, `access.${operation}`);
    assert.equal(error.pluginId, caller);
    assert.ok(error.message.startsWith(`access.${operation}: `), error.message);
    assert.ok(error.message.includes(caller), `names the caller: ${error.message}`);
    assert.ok(error.message.includes(target), `names the target: ${error.message}`);
    return true;
  };
}

for (const backend of backends) {
  describe(`forPlugin on ${backend.name} storage: allowed operations`, () => {
    it('gets, sets (with compare-and-set) and deletes its own state, each audited as allowed', async (t) => {
      const { manager, reports, audits, onAudit, dir } = backend.setup(t);
      const handle = manager.forPlugin(editorId, { onAudit });

      assert.equal(await handle.get(), undefined, 'nothing stored yet');
      const first = await handle.set({ data: { tabs: 4 } }, { expectedRevision: 0 });
      assert.deepEqual(Object.keys(first).sort(), [
        'data',
        'lastModified',
        'pluginId',
        'revision',
        'version',
      ]);
      assert.equal(first.pluginId, editorId);
      assert.deepEqual(first.data, { tabs: 4 });
      assert.equal(first.version, 1);
      assert.equal(first.revision, 1);
      assert.ok(first.lastModified instanceof Date);

      const loaded = await handle.get();
      assert.deepEqual(loaded, first);
      const second = await handle.set({ ...loaded!, data: { tabs: 8 }, version: 2 }, { expectedRevision: 1 });
      assert.equal(second.revision, 2);
      assert.equal(second.version, 2);
      if (dir) assert.deepEqual(statesOnDisk(dir).get(editorId), { revision: 2, data: { tabs: 8 } });

      await handle.delete();
      assert.equal(await handle.get(), undefined);
      assert.equal(await manager.loadPluginState(editorId), undefined);
      await handle.delete(); // deleting a missing state is not an error

      const expected = ['get', 'set', 'get', 'set', 'delete', 'get', 'delete'];
      assert.deepEqual(
        audits.map((a) => [a.operation, a.allowed, a.reason, a.pluginId, a.targetPluginId]),
        expected.map((op) => [op, true, 'own', editorId, editorId]),
      );
      for (const audit of audits) {
        assert.ok(audit.time instanceof Date);
        assert.equal(audit.error, undefined);
      }
      const access = accessReports(reports);
      assert.deepEqual(
        access.map((r) => r.operation),
        expected.map((op) => `access.${op}`),
      );
      for (const report of access) {
        assert.equal(report.pluginId, editorId);
        assert.equal(report.code, undefined, 'an allowed access carries no code');
        assert.equal(report.error, undefined);
        assert.match(report.message, /: allowed\.$/);
      }
      assert.equal(
        access[1]!.message,
        `access.set: plugin ${editorId} asked to write its own state: allowed.`,
      );
    });

    it('reads (only reads) the plugins listed in `read`, in any case', async (t) => {
      const { manager, audits, reports, onAudit } = backend.setup(t);
      await seed(manager);
      const handle = manager.forPlugin(editorId.toUpperCase(), { read: [themeId.toUpperCase()], onAudit });

      const theme = await handle.get(themeId);
      assert.deepEqual(theme?.data, { colour: 'dark' });
      assert.equal(theme?.pluginId, themeId);
      const again = await handle.get(themeId.toUpperCase());
      assert.deepEqual(again, theme);
      assert.deepEqual((await handle.get(editorId.toUpperCase()))?.data, { tabs: 2 }, 'own id in upper case');

      assert.deepEqual(
        audits.map((a) => [a.operation, a.allowed, a.reason, a.targetPluginId]),
        [
          ['get', true, 'granted', themeId],
          ['get', true, 'granted', themeId],
          ['get', true, 'own', editorId],
        ],
      );
      assert.equal(
        accessReports(reports)[0]!.message,
        `access.get: plugin ${editorId} asked to read the state of plugin ${themeId} (listed in read): allowed.`,
      );
    });

    it('returns a conflict when expectedRevision does not match, reported beside the allowed decision', async (t) => {
      const { manager, reports } = backend.setup(t);
      const handle = manager.forPlugin(editorId);
      await handle.set({ data: 1 });
      await assert.rejects(handle.set({ data: 2 }, { expectedRevision: 0 }), (error) => {
        assert.ok(error instanceof ConflictError);
        assert.equal(error.storedRevision, 1);
        assert.equal(error.expectedRevision, 0);
        assert.equal(error.cause, undefined, 'the plugin gets a copy without cause');
        return true;
      });
      const last = reports.slice(-2);
      assert.deepEqual(
        last.map((r) => [r.operation, r.code]),
        [
          ['access.set', undefined],
          ['access.set', 'CONFLICT'],
        ],
      );
      assert.ok(last[1]!.error instanceof ConflictError, 'the host hears the original error');
      assert.deepEqual((await handle.get())?.data, 1);
    });
  });

  describe(`forPlugin on ${backend.name} storage: denied operations`, () => {
    it('refuses to read an unlisted plugin, in any case, and audits it', async (t) => {
      const { manager, reports, audits, onAudit } = backend.setup(t);
      await seed(manager);
      const handle = manager.forPlugin(editorId, { read: [themeId], onAudit });
      await assert.rejects(handle.get(secretsId), permissionDenied('get', editorId, secretsId));
      await assert.rejects(handle.get(secretsId.toUpperCase()), permissionDenied('get', editorId, secretsId));

      assert.deepEqual(
        audits.map((a) => [a.operation, a.allowed, a.reason, a.targetPluginId]),
        [
          ['get', false, 'not-granted', secretsId],
          ['get', false, 'not-granted', secretsId],
        ],
      );
      assert.ok(audits[0]!.error instanceof PermissionError);
      const denied = accessReports(reports);
      assert.equal(denied.length, 2, 'one report per decision, no separate failure report');
      for (const report of denied) {
        assert.equal(report.operation, 'access.get');
        assert.equal(report.pluginId, editorId);
        assert.equal(report.code, 'PERMISSION');
        assert.equal(report.recovered, false);
        assert.ok(report.error instanceof PermissionError);
        assert.equal(
          report.message,
          `access.get: plugin ${editorId} asked to read the state of plugin ${secretsId}: denied (not-granted).`,
        );
      }
    });

    it('refuses to write or delete another plugin, even one it may read, and nothing changes', async (t) => {
      const { manager, audits, onAudit, dir } = backend.setup(t);
      await seed(manager);
      const before = await manager.listPluginStates();
      const handle = manager.forPlugin(editorId, { read: [themeId], onAudit });

      for (const target of [themeId, secretsId, themeId.toUpperCase()]) {
        const canonical = target.toLowerCase();
        await assert.rejects(
          handle.set({ pluginId: target, data: { hijacked: true } }),
          permissionDenied('set', editorId, canonical),
        );
        await assert.rejects(handle.delete(target), permissionDenied('delete', editorId, canonical));
      }
      assert.deepEqual(
        audits.map((a) => [a.operation, a.allowed, a.reason]),
        Array.from({ length: 3 }, () => [
          ['set', false, 'not-granted'],
          ['delete', false, 'not-granted'],
        ]).flat(),
      );
      const byId = (states: { pluginId: string }[]) =>
        [...states].sort((a, b) => a.pluginId.localeCompare(b.pluginId));
      assert.deepEqual(byId(await manager.listPluginStates()), byId(before));
      if (dir) assert.equal(statesOnDisk(dir).get(themeId)?.revision, 1);
    });

    it('refuses malformed ids and arguments with a ValidationError, audited as invalid', async (t) => {
      const { manager, audits, onAudit } = backend.setup(t);
      const handle = manager.forPlugin(editorId, { read: [themeId], onAudit });
      for (const bad of ['theme', '', `${themeId}x`, 42, null, {}, '__proto__', 'constructor']) {
        await assert.rejects(handle.get(bad as never), ValidationError);
        await assert.rejects(handle.delete(bad as never), ValidationError);
      }
      await assert.rejects(handle.set({ pluginId: 'nope', data: 1 }), ValidationError);
      await assert.rejects(handle.set(null as never), /expected a state object/);
      await assert.rejects(handle.set({ tabs: 4 } as never), /call set\(\{ data: yourData \}\)/);
      await assert.rejects(handle.set({ data: 1, version: '2' as never }), /version must be/);
      await assert.rejects(handle.set({ data: 1 }, { expectedRevision: '1' as never }), /expectedRevision/);
      await assert.rejects(handle.set({ data: 1 }, 5 as never), /options must be an object/);
      assert.ok(
        audits.every((a) => !a.allowed && a.reason === 'invalid' && a.error instanceof ValidationError),
      );
      assert.equal(audits.length, 22);
      assert.equal(await manager.loadPluginState(editorId), undefined);
    });

    it('keeps hostile ids out of log lines: bounded, quoted, one line', async (t) => {
      const { manager, audits, reports, onAudit } = backend.setup(t);
      const handle = manager.forPlugin(editorId, { onAudit });
      const forged = `x\n[info] access.get: plugin ${themeId} read everything: allowed.${'y'.repeat(1_000_000)}`;
      await assert.rejects(handle.get(forged), ValidationError);
      const [audit] = audits;
      assert.ok(audit!.targetPluginId.length <= 84, `bounded: ${audit!.targetPluginId.length}`);
      assert.ok(!audit!.message.includes('\n'));
      assert.ok(accessReports(reports).every((r) => !r.message.includes('\n') && r.message.length < 400));
    });
  });
}

describe('forPlugin: options, hooks and revocation', () => {
  it('refuses bad ids and options when the handle is made, reporting under forPlugin', () => {
    const reports: { operation: string; code?: string }[] = [];
    const manager = PluginStateManager.withMemoryStorage({ onReport: (r) => reports.push(r) });
    assert.throws(() => manager.forPlugin('editor'), ValidationError);
    assert.throws(() => manager.forPlugin(editorId, { read: ['theme'] }), ValidationError);
    assert.throws(() => manager.forPlugin(editorId, { read: ['__proto__'] }), ValidationError);
    assert.throws(() => manager.forPlugin(editorId, { read: themeId as never }), /`read` must be an array/);
    assert.throws(
      () => manager.forPlugin(editorId, { onAudit: 'log' as never }),
      /`onAudit` must be a function/,
    );
    assert.throws(
      () => manager.forPlugin(editorId, { signal: {} as never }),
      /`signal` must be an AbortSignal/,
    );
    assert.throws(() => manager.forPlugin(editorId, null as never), /options must be an object/);
    assert.equal(reports.length, 7);
    assert.ok(reports.every((r) => r.operation === 'forPlugin' && r.code === 'VALIDATION'));
  });

  it('copies the read list: changing the array afterwards grants nothing', async () => {
    const manager = PluginStateManager.withMemoryStorage();
    await seed(manager);
    const read = [themeId];
    const handle = manager.forPlugin(editorId, { read });
    read.push(secretsId);
    await assert.rejects(handle.get(secretsId), PermissionError);
    read.length = 0;
    assert.deepEqual((await handle.get(themeId))?.data, { colour: 'dark' });
  });

  it('a throwing audit hook or report hook changes no outcome', async () => {
    const boom = () => {
      throw new Error('logger exploded');
    };
    const manager = PluginStateManager.withMemoryStorage({ onReport: boom });
    await seed(manager);
    const handle = manager.forPlugin(editorId, { onAudit: boom });
    assert.deepEqual((await handle.get())?.data, { tabs: 2 });
    await assert.rejects(handle.get(themeId), PermissionError);
  });

  it('is revoked by its signal: every later call is a PermissionError audited as revoked', async () => {
    const manager = PluginStateManager.withMemoryStorage();
    await seed(manager);
    const controller = new AbortController();
    const audits: { operation: string; reason: string; allowed: boolean }[] = [];
    const handle = manager.forPlugin(editorId, {
      read: [themeId],
      signal: controller.signal,
      onAudit: (e) => audits.push(e),
    });
    assert.ok(await handle.get(themeId));
    controller.abort();
    await assert.rejects(handle.get(), /was revoked by the host/);
    await assert.rejects(handle.get(themeId), PermissionError);
    await assert.rejects(handle.set({ data: 'late' }), PermissionError);
    await assert.rejects(handle.set(null as never), PermissionError, 'revocation is checked first');
    await assert.rejects(handle.delete(), PermissionError);
    assert.deepEqual(
      audits.slice(1).map((a) => [a.operation, a.reason, a.allowed]),
      [
        ['get', 'revoked', false],
        ['get', 'revoked', false],
        ['set', 'revoked', false],
        ['set', 'revoked', false],
        ['delete', 'revoked', false],
      ],
    );
    assert.deepEqual((await manager.loadPluginState(editorId))?.data, { tabs: 2 });
  });

  it('reports a storage failure to the host in full, and gives the plugin a copy without cause', async () => {
    const storage = new MemoryStateStorage();
    const reports: { operation: string; code?: string; error?: unknown }[] = [];
    const manager = new PluginStateManager(storage, { onReport: (r) => reports.push(r) });
    const handle = manager.forPlugin(editorId);
    await storage.close();
    await assert.rejects(handle.get(), (error) => {
      assert.ok(error instanceof StorageError);
      assert.match(error.message, /closed/);
      return true;
    });
    assert.deepEqual(
      reports.map((r) => [r.operation, r.code]),
      [
        ['access.get', undefined],
        ['access.get', 'STORAGE'],
      ],
    );
  });
});

describe('PluginManager.forPlugin', () => {
  it('delegates to the state manager: same rules, same reports', async (t) => {
    const reports: { operation: string; code?: string }[] = [];
    const manager = PluginManager.withStateStorage(new MemoryStateStorage(), {
      onReport: (r) => reports.push(r),
    });
    t.after(() => manager.shutdown().catch(() => {}));
    await manager.setPluginState({ pluginId: themeId, data: { colour: 'dark' }, lastModified: new Date() });
    const handle = manager.forPlugin(editorId, { read: [themeId] });
    await handle.set({ data: { tabs: 4 } });
    assert.deepEqual((await manager.getPluginState(editorId))?.data, { tabs: 4 });
    assert.deepEqual((await handle.get(themeId))?.data, { colour: 'dark' });
    await assert.rejects(
      handle.set({ pluginId: themeId, data: {} }),
      permissionDenied('set', editorId, themeId),
    );
    assert.deepEqual(
      reports.map((r) => [r.operation, r.code]),
      [
        ['access.set', undefined],
        ['access.get', undefined],
        ['access.set', 'PERMISSION'],
      ],
    );
    assert.throws(() => manager.forPlugin('nope'), ValidationError);
    assert.equal(reports.at(-1)?.operation, 'forPlugin');
  });

  it('after shutdown: forPlugin is a StorageError and earlier handles fail on their next call', async () => {
    const manager = PluginManager.withStateStorage(new MemoryStateStorage());
    const handle = manager.forPlugin(editorId);
    await handle.set({ data: 1 });
    await manager.shutdown();
    assert.throws(() => manager.forPlugin(editorId), /has been shut down/);
    await assert.rejects(handle.get(), StorageError);
    await assert.rejects(handle.set({ data: 2 }), StorageError);
  });
});

describe('forPlugin with the storage history', () => {
  it('takes only expectedRevision from a plugin: the other save options are the host’s', async () => {
    const inner = new MemoryStateStorage({ history: 0 });
    const seen: unknown[] = [];
    const spy: PluginStateStorage = {
      saveState: (state, options) => {
        seen.push(options);
        return inner.saveState(state, options);
      },
      loadState: (id) => inner.loadState(id),
      deleteState: (id) => inner.deleteState(id),
      listStates: () => inner.listStates(),
    };
    const manager = new PluginStateManager(spy);
    const handle = manager.forPlugin(editorId);
    await handle.set({ data: 1 });
    const options = { expectedRevision: 1, keepReplaced: true, maxStoredVersion: 1 };
    await handle.set({ data: 2 }, options as never);
    assert.deepEqual(seen, [undefined, { expectedRevision: 1 }]);
    assert.deepEqual(
      (await inner.listRevisions(editorId)).map((info) => info.revision),
      [2],
      'keepReplaced from a plugin kept nothing',
    );
  });

  it('a delete through a handle stays in the storage’s history, for the host to restore', async () => {
    const storage = new MemoryStateStorage();
    const manager = new PluginStateManager(storage);
    const handle = manager.forPlugin(editorId);
    await handle.set({ data: { tabs: 3 } });
    await handle.delete();
    assert.equal(await handle.get(), undefined);
    const restored = await storage.restoreRevision(editorId, 1);
    assert.equal(restored.revision, 2);
    assert.deepEqual((await handle.get())?.data, { tabs: 3 });
    assert.equal(Object.hasOwn(handle, 'listRevisions'), false, 'the handle offers no history');
  });
});
