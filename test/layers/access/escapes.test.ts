// Escapes tried as an attacker would, from inside a plugin that holds only its handle.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import {
  FileSystemStateStorage,
  GuardedStorage,
  MemoryStateStorage,
  PermissionError,
  type PluginState,
  PluginStateManager,
  type PluginStateStorage,
  ValidationError,
} from '../../../src/index.js';
import { statesOnDisk } from '../../helpers/temp-dir.js';
import { backends, editorId, secretsId, seed, themeId } from './fixtures.js';

/**
 * Every object reachable from `root` by reading properties (own data values, and what getters
 * return when called on the object that holds them) and prototypes — what a plugin can walk to.
 */
function reachable(root: object): Set<unknown> {
  const seen = new Set<unknown>();
  const queue: unknown[] = [root];
  while (queue.length > 0) {
    const value = queue.pop();
    if ((typeof value !== 'object' && typeof value !== 'function') || value === null || seen.has(value))
      continue;
    seen.add(value);
    queue.push(Object.getPrototypeOf(value));
    for (const key of Reflect.ownKeys(value)) {
      const descriptor = Reflect.getOwnPropertyDescriptor(value, key)!;
      if ('value' in descriptor) queue.push(descriptor.value);
      for (const accessor of [descriptor.get, descriptor.set]) {
        if (!accessor) continue;
        queue.push(accessor);
        try {
          queue.push(Reflect.apply(accessor, value, []));
        } catch {
          // poison-pill accessors (Function.prototype.caller) and brand checks throw: nothing leaks
        }
      }
    }
  }
  return seen;
}

for (const backend of backends) {
  describe(`handle escapes on ${backend.name} storage`, () => {
    it('no property or prototype path from the handle reaches the manager or the storage', async (t) => {
      const { manager, storage } = backend.setup(t);
      const handle = manager.forPlugin(editorId, { read: [themeId] });
      await handle.set({ data: { tabs: 1 } });
      const graph = reachable(handle);
      assert.ok(graph.size > 3, 'the walk did go through the functions and their prototypes');
      for (const value of graph) {
        assert.notEqual(value, manager);
        assert.notEqual(value, storage);
        assert.ok(!(value instanceof PluginStateManager), 'a manager is reachable');
        assert.ok(!(value instanceof GuardedStorage), 'a storage is reachable');
        assert.ok(!(value instanceof Map), 'a Map (such as the memory records) is reachable');
      }
    });

    it('the handle has no prototype, no constructor and only its three frozen methods', (t) => {
      const { manager } = backend.setup(t);
      const handle = manager.forPlugin(editorId);
      const loose = handle as unknown as Record<string | symbol, unknown>;
      assert.equal(Object.getPrototypeOf(handle), null);
      assert.equal(loose.constructor, undefined);
      // biome-ignore lint/suspicious/noProto: the accessor an attacker would try first
      assert.equal(loose.__proto__, undefined);
      assert.equal(loose.storage, undefined);
      assert.equal(loose.then, undefined, 'not a thenable: awaiting it gives the handle itself');
      assert.deepEqual(Reflect.ownKeys(handle), ['get', 'set', 'delete']);
      assert.ok(Object.isFrozen(handle));
      const descriptors = Object.getOwnPropertyDescriptors(handle);
      for (const name of ['get', 'set', 'delete'] as const) {
        const descriptor = descriptors[name];
        assert.equal(typeof descriptor.value, 'function');
        assert.equal(descriptor.writable, false);
        assert.equal(descriptor.configurable, false);
        const method = handle[name];
        assert.ok(Object.isFrozen(method));
        assert.deepEqual(
          Reflect.ownKeys(method).sort(),
          ['length', 'name'],
          'no prototype, no extra property',
        );
        assert.equal(method.name, name, 'not a bound function ("bound …") exposing a target');
        assert.equal(Object.getPrototypeOf(method), Function.prototype);
        assert.throws(() => (method as unknown as { caller: unknown }).caller, TypeError);
        assert.throws(() => (method as unknown as { arguments: unknown }).arguments, TypeError);
        assert.throws(() => Reflect.construct(method, []), TypeError, 'not constructible');
        assert.doesNotMatch(String(method), /storage|manager|reporter/i, 'its source names nothing inside');
      }
    });

    it('handle.get.constructor is Function: code it makes runs in global scope, not in the closure', async (t) => {
      const { manager, storage } = backend.setup(t);
      const handle = manager.forPlugin(editorId);
      const MadeFunction = handle.get.constructor as FunctionConstructor;
      assert.equal(MadeFunction, Function);
      const probe = MadeFunction(
        'return [typeof storage, typeof manager, typeof reporter, typeof self, typeof read, typeof decide]',
      );
      assert.deepEqual(probe(), Array(6).fill('undefined'));
      const global = MadeFunction('return this')() as Record<string, unknown>;
      assert.equal(global, globalThis);
      for (const key of Reflect.ownKeys(globalThis)) {
        const value = (globalThis as Record<string | symbol, unknown>)[key];
        assert.ok(value !== storage && value !== manager, `globalThis.${String(key)}`);
      }
      // A function bound or made from the method's prototype gains nothing either.
      assert.deepEqual(Reflect.ownKeys(handle.get.bind(null)).sort(), ['length', 'name']);
    });

    it('JSON, structured clone and inspect of the handle reveal nothing', (t) => {
      const { manager, dir } = backend.setup(t);
      const handle = manager.forPlugin(editorId, { read: [themeId] });
      assert.equal(JSON.stringify(handle), '{}');
      assert.deepEqual(JSON.parse(JSON.stringify(handle)), {});
      assert.equal(JSON.stringify({ handle }), '{"handle":{}}');
      assert.throws(() => structuredClone(handle), /could not be cloned/);
      const shown = inspect(handle, { showHidden: true, depth: Number.POSITIVE_INFINITY, getters: true });
      assert.doesNotMatch(shown, /Storage|Manager|Reporter|records/);
      assert.ok(!shown.includes(themeId), 'the read list is not shown');
      if (dir) assert.ok(!shown.includes(dir), 'the folder is not shown');
      assert.throws(() => `${handle}`, TypeError, 'no toString to call');
    });

    it('the frozen handle and methods cannot be extended, replaced or re-prototyped', (t) => {
      const { manager } = backend.setup(t);
      const handle = manager.forPlugin(editorId);
      const loose = handle as unknown as Record<string, unknown>;
      const original = handle.get;
      assert.throws(() => {
        loose.get = async () => 'hijacked';
      }, TypeError);
      assert.throws(() => {
        loose.list = () => [];
      }, TypeError);
      assert.throws(() => delete loose.delete, TypeError);
      assert.throws(() => Object.defineProperty(handle, 'get', { value: () => 1 }), TypeError);
      assert.throws(() => Object.setPrototypeOf(handle, { list: () => [] }), TypeError);
      assert.throws(() => {
        (handle.get as unknown as Record<string, unknown>).storage = {};
      }, TypeError);
      assert.throws(() => Object.defineProperty(handle.set, 'call', { value: () => 1 }), TypeError);
      assert.equal(handle.get, original);
    });

    it('rebinding `this` changes nothing: a method always acts for the handle it came from', async (t) => {
      const { manager } = backend.setup(t);
      await seed(manager);
      const editor = manager.forPlugin(editorId);
      const theme = manager.forPlugin(themeId);
      assert.deepEqual((await editor.get.call(theme))?.data, { tabs: 2 });
      assert.deepEqual((await Reflect.apply(theme.get, editor, []))?.data, { colour: 'dark' });
      await editor.set.call(theme, { data: { tabs: 3 } });
      await Reflect.apply(editor.set, { pluginId: themeId }, [{ data: { tabs: 5 } }]);
      const { get } = editor;
      assert.deepEqual((await get())?.data, { tabs: 5 }, 'detached, it still works for editor');
      assert.deepEqual((await manager.loadPluginState(themeId))?.data, { colour: 'dark' });
      await editor.delete.call(theme);
      assert.equal(await manager.loadPluginState(editorId), undefined);
      assert.ok(await manager.loadPluginState(themeId));
    });

    it('returned states are fresh copies: mutating them changes nothing stored', async (t) => {
      const { manager, dir } = backend.setup(t);
      await seed(manager);
      const handle = manager.forPlugin(editorId, { read: [themeId] });
      const theme = (await handle.get(themeId))!;
      (theme.data as Record<string, unknown>).colour = 'hacked';
      theme.pluginId = editorId;
      theme.lastModified.setTime(0);
      theme.revision = 99;
      const mine = (await handle.get())!;
      (mine.data as Record<string, unknown>).tabs = 1000;
      const saved = await handle.set({ data: { list: [1, 2] } });
      (saved.data as { list: number[] }).list.push(3);
      assert.notEqual(await handle.get(themeId), await handle.get(themeId), 'a new object per call');

      const storedTheme = (await manager.loadPluginState(themeId))!;
      assert.deepEqual(storedTheme.data, { colour: 'dark' });
      assert.notEqual(storedTheme.lastModified.getTime(), 0);
      assert.equal(storedTheme.revision, 1);
      assert.deepEqual((await handle.get())?.data, { list: [1, 2] });
      if (dir) assert.deepEqual(statesOnDisk(dir).get(themeId), { revision: 1, data: { colour: 'dark' } });
    });

    it("a state carrying another plugin's id cannot redirect a save, whatever its shape", async (t) => {
      const { manager, audits, onAudit, dir } = backend.setup(t);
      await seed(manager);
      const handle = manager.forPlugin(editorId, { read: [themeId], onAudit });

      // Straight, in upper case, as a copy of the other plugin's own snapshot, inherited.
      const theirs = (await handle.get(themeId))!;
      for (const state of [
        { pluginId: secretsId, data: { token: 'mine now' } },
        { pluginId: secretsId.toUpperCase(), data: { token: 'mine now' } },
        { ...theirs, data: { colour: 'pink' } },
        Object.create({ pluginId: themeId, data: { colour: 'pink' } }),
      ]) {
        await assert.rejects(handle.set(state), PermissionError);
      }

      // A getter that shows the handle's own id once, then another id: it is read exactly once.
      let reads = 0;
      const shifty = {
        data: { tabs: 7 },
        get pluginId() {
          reads++;
          return reads === 1 ? editorId : secretsId;
        },
      };
      const saved = await handle.set(shifty);
      assert.equal(reads, 1);
      assert.equal(saved.pluginId, editorId);

      // A Proxy that answers differently on every access is read once per field too.
      let proxyReads = 0;
      const proxy = new Proxy(
        {},
        {
          get: (_target, key) => {
            if (key !== 'pluginId') return key === 'data' ? { tabs: 9 } : undefined;
            proxyReads++;
            return proxyReads === 1 ? editorId.toUpperCase() : themeId;
          },
        },
      );
      assert.equal((await handle.set(proxy as never)).pluginId, editorId);
      assert.equal(proxyReads, 1);

      assert.deepEqual((await manager.loadPluginState(secretsId))?.data, { token: 'do-not-leak' });
      assert.deepEqual((await manager.loadPluginState(themeId))?.data, { colour: 'dark' });
      assert.deepEqual((await manager.loadPluginState(editorId))?.data, { tabs: 9 });
      if (dir) {
        const onDisk = statesOnDisk(dir);
        assert.equal(onDisk.get(secretsId)?.revision, 1);
        assert.equal(onDisk.get(themeId)?.revision, 1);
      }
      const denied = audits.filter((a) => !a.allowed);
      assert.deepEqual(
        denied.map((a) => [a.operation, a.reason, a.targetPluginId]),
        [
          ['set', 'not-granted', secretsId],
          ['set', 'not-granted', secretsId],
          ['set', 'not-granted', themeId],
          ['set', 'not-granted', themeId],
        ],
      );
    });

    it('__proto__ payloads neither pollute prototypes nor redirect a save', async (t) => {
      const { manager } = backend.setup(t);
      await seed(manager);
      const handle = manager.forPlugin(editorId, { read: [themeId] });

      // As data: refused by the storage's guard before anything is stored.
      await assert.rejects(
        handle.set({ data: JSON.parse('{"__proto__": {"polluted": true}}') }),
        (error) => error instanceof ValidationError && /__proto__/.test(error.message),
      );
      await assert.rejects(
        handle.set({ data: JSON.parse('{"constructor": {"prototype": {"polluted": true}}}') }),
        ValidationError,
      );
      // As the state itself: an own "__proto__" key is just a key; its pluginId is not inherited.
      const saved = await handle.set(
        JSON.parse(`{"__proto__": {"pluginId": "${themeId}"}, "data": {"tabs": 3}}`),
      );
      assert.equal(saved.pluginId, editorId);
      // As the options: a prototype carrying expectedRevision is honoured like any options object,
      // and an own "__proto__" key grants nothing.
      await assert.rejects(
        handle.set({ data: 4 }, Object.create({ expectedRevision: 0 })),
        /expectedRevision 0/,
      );
      await handle.set({ data: 4 }, JSON.parse('{"__proto__": {"pluginId": "x"}}'));
      // As an id.
      await assert.rejects(handle.get('__proto__'), ValidationError);
      await assert.rejects(handle.get('constructor'), ValidationError);

      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      assert.equal((Object.prototype as unknown as Record<string, unknown>).pluginId, undefined);
      assert.deepEqual((await manager.loadPluginState(themeId))?.data, { colour: 'dark' });
      assert.deepEqual((await manager.loadPluginState(editorId))?.data, 4);
    });
  });
}

describe('errors reaching the plugin', () => {
  /** A custom backend that fails by throwing itself, or an error whose cause is itself. */
  class LeakyStorage implements PluginStateStorage {
    readonly inner = new MemoryStateStorage();
    mode: 'self' | 'cause' = 'self';
    async saveState(state: PluginState): Promise<PluginState> {
      return this.inner.saveState(state);
    }
    async loadState(): Promise<PluginState | undefined> {
      if (this.mode === 'self') throw this;
      throw new Error('backend down', { cause: this });
    }
    async deleteState(): Promise<void> {
      throw Object.assign(new PermissionError('EACCES on the state file'), { storage: this });
    }
    async listStates(): Promise<PluginState[]> {
      return [];
    }
  }

  it("never carry the storage: the plugin gets a cause-less copy, the host's report the original", async () => {
    const storage = new LeakyStorage();
    const reports: { error?: unknown }[] = [];
    const manager = new PluginStateManager(storage, { onReport: (r) => reports.push(r) });
    const handle = manager.forPlugin(editorId);
    for (const mode of ['self', 'cause'] as const) {
      storage.mode = mode;
      await assert.rejects(handle.get(), (error) => {
        assert.ok(!reachable(error as object).has(storage), `mode ${mode}: the storage is reachable`);
        assert.ok(error instanceof Error && error.cause === undefined);
        return true;
      });
    }
    await assert.rejects(handle.delete(), (error) => {
      assert.ok(error instanceof PermissionError);
      assert.equal((error as unknown as { storage?: unknown }).storage, undefined);
      assert.ok(!reachable(error).has(storage));
      return true;
    });
    const originals = reports.map((r) => r.error).filter((e) => e !== undefined);
    assert.equal(originals[0], storage, 'the host hears what the backend threw');
  });

  it('the file backend: a handle stays inside its own record', async (t) => {
    const { manager, dir } = backends[1]!.setup(t);
    const handle = manager.forPlugin(editorId);
    await handle.set({ data: { ok: true } });
    assert.deepEqual([...statesOnDisk(dir!).keys()], [editorId]);
    assert.ok(!reachable(handle).has(dir));
    assert.ok(![...reachable(handle)].some((v) => v instanceof FileSystemStateStorage));
  });
});
