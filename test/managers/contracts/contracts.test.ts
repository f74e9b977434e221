// State contracts through the managers: versions, migrations, defaults, the invalid-state policy,
// references, planning and migrateAll. The stored bytes are compared on disk where it matters.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import {
  FileSystemStateStorage,
  type JsonValue,
  type ManagerOptions,
  MemoryStateStorage,
  type MigrationStep,
  type Plugin,
  PluginManager,
  type PluginState,
  PluginStateManager,
  type PluginStateStorage,
  pluginIdFromName,
  type StateContract,
  type StateReport,
  ValidationError,
  VersionIncompatibilityError,
} from '../../../src/index.js';
import { tempDir } from '../../helpers/temp-dir.js';

/** A plugin whose state is whatever it was last given; it records every `setState`. */
class Holder implements Plugin {
  readonly id: string;
  readonly restored: JsonValue[] = [];
  constructor(
    name: string,
    public state: JsonValue,
    public readonly stateContract?: StateContract,
  ) {
    this.id = pluginIdFromName(name);
  }
  getState(): JsonValue {
    return this.state;
  }
  setState(data: JsonValue): void {
    this.restored.push(data);
    this.state = data;
  }
}

/** v1 `{ name: 'Ada Lovelace', admin: true }` → v2 renames `admin` to `role` → v3 splits `name`. */
const steps: Record<number, MigrationStep> = {
  2: (data) => {
    const { admin, ...rest } = data as { admin: boolean; name: string };
    return { ...rest, role: admin ? 'admin' : 'user' };
  },
  3: (data) => {
    const { name, ...rest } = data as { name: string; role: string };
    const [first = '', ...last] = name.split(' ');
    return { ...rest, first, last: last.join(' ') };
  },
};
const V1 = { name: 'Ada Lovelace', admin: true };
const V3 = { role: 'admin', first: 'Ada', last: 'Lovelace' };
const v3Schema = {
  type: 'object',
  properties: { role: { enum: ['admin', 'user'] }, first: { type: 'string' }, last: { type: 'string' } },
  required: ['role', 'first', 'last'],
  additionalProperties: false,
};

function contractV(version: number, extra: Partial<StateContract> = {}): StateContract {
  return { version, migrations: steps, ...extra };
}

function fileSetup(t: TestContext, options: ManagerOptions = {}) {
  const dir = tempDir(t);
  const storage = new FileSystemStateStorage(dir);
  const reports: StateReport[] = [];
  const manager = new PluginStateManager(storage, { ...options, onReport: (r) => reports.push(r) });
  t.after(() => manager.close());
  /** Every file of the store's folder with its bytes: what "left byte-identical" compares. */
  const snapshot = () =>
    new Map(
      readdirSync(dir)
        .filter((name) => !name.startsWith('.'))
        .sort()
        .map((name) => [name, readFileSync(join(dir, name)).toString('base64')]),
    );
  return { dir, storage, manager, reports, snapshot };
}

async function seed(storage: PluginStateStorage, plugin: Plugin, data: JsonValue, version: number) {
  return storage.saveState({ pluginId: plugin.id, data, version, lastModified: new Date() });
}

describe('saving through a contract', () => {
  it('stamps the contract version and refuses a state stored at a newer version', async (t) => {
    const { storage, manager, snapshot } = fileSetup(t);
    const plugin = new Holder('stamp', V3, { version: 3 });
    await manager.saveState(plugin);
    assert.equal((await storage.loadState(plugin.id))?.version, 3);

    const older = new Holder('stamp', { old: true }, { version: 2 });
    const before = snapshot();
    const error = await assert.rejects(manager.saveState(older), VersionIncompatibilityError);
    void error;
    await manager.saveState(older).catch((e: VersionIncompatibilityError) => {
      assert.equal(e.storedVersion, 3);
      assert.equal(e.supportedVersion, 2);
      assert.match(e.message, new RegExp(plugin.id));
    });
    assert.deepEqual(snapshot(), before, 'the newer state is byte-identical');
  });

  it('a plugin without a contract is version 1, and does not overwrite a newer state', async (t) => {
    const { storage, manager } = fileSetup(t);
    const plain = new Holder('plain', { a: 1 });
    await manager.saveState(plain);
    assert.equal((await storage.loadState(plain.id))?.version, 1);
    await seed(storage, plain, { from: 'v2 plugin' }, 2);
    await assert.rejects(manager.saveState(plain), VersionIncompatibilityError);
    await assert.rejects(manager.loadState(plain), VersionIncompatibilityError);
    assert.deepEqual((await storage.loadState(plain.id))?.data, { from: 'v2 plugin' });
  });

  it('a schema violation lists every issue and writes nothing', async (t) => {
    const { storage, manager } = fileSetup(t);
    const plugin = new Holder('bad', { role: 'king', first: 7 }, contractV(3, { schema: v3Schema }));
    const error = await manager.saveState(plugin).then(
      () => assert.fail('expected a ValidationError'),
      (e: unknown) => e as ValidationError,
    );
    assert.ok(error instanceof ValidationError);
    const paths = error.issues.map((issue) => issue.path).sort();
    assert.deepEqual(paths, ['data', 'data.first', 'data.role'], JSON.stringify(error.issues));
    assert.match(error.message, /Nothing was written/);
    assert.equal(await storage.loadState(plugin.id), undefined);
  });
});

describe('loading through a contract', () => {
  it('migrates 1 → 3 in order, saves once on the read revision, keeps the state before in history', async (t) => {
    const { storage, manager, reports } = fileSetup(t);
    const plugin = new Holder('chain', null, contractV(3, { schema: v3Schema }));
    await seed(storage, plugin, V1, 1); // written as a legacy state would be
    await manager.loadState(plugin);
    assert.deepEqual(plugin.restored, [V3]);
    const stored = await storage.loadState(plugin.id);
    assert.equal(stored?.version, 3);
    assert.equal(stored?.revision, 2, 'one durable write for the whole chain');
    assert.deepEqual(stored?.data, V3);
    const before = await storage.loadRevision!(plugin.id, 1);
    assert.deepEqual(before?.data, V1, 'the pre-migration state is recoverable');
    assert.equal(before?.version, 1);
    const migrations = reports.filter((r) => r.operation === 'migrate');
    assert.equal(migrations.length, 1);
    assert.match(migrations[0]!.message, /from version 1 to 3 \(steps 2, 3\).*revision 2.*revision 1/);

    await manager.loadState(plugin);
    assert.equal((await storage.loadState(plugin.id))?.revision, 2, 'a current state is not saved again');
  });

  it('each step gets the context of its versions', async (t) => {
    const { storage, manager } = fileSetup(t);
    const seen: unknown[] = [];
    const record: MigrationStep = (data, context) => {
      seen.push(context);
      return data;
    };
    const plugin = new Holder('context', null, { version: 4, migrations: { 3: record, 4: record } });
    await seed(storage, plugin, { x: 1 }, 2);
    await manager.loadState(plugin);
    assert.deepEqual(seen, [
      { pluginId: plugin.id, fromVersion: 2, toVersion: 3, storedVersion: 2, revision: 1 },
      { pluginId: plugin.id, fromVersion: 3, toVersion: 4, storedVersion: 2, revision: 1 },
    ]);
  });

  for (const [what, contract, check] of [
    [
      'a throwing step',
      contractV(3, {
        migrations: {
          ...steps,
          3: () => {
            throw new RangeError('cannot split');
          },
        },
      }),
      (error: unknown) => {
        assert.ok(error instanceof VersionIncompatibilityError, String(error));
        assert.equal(error.step, 3);
        assert.equal(error.storedVersion, 1);
        assert.equal(error.supportedVersion, 3);
        assert.ok(error.cause instanceof RangeError, 'the step’s error is the cause');
        assert.match(error.message, /step 3 \(version 2 to 3\).*from version 1 to 3.*cannot split/);
      },
    ],
    [
      'a result failing the schema',
      contractV(3, { schema: { ...v3Schema, required: ['role', 'first', 'last', 'email'] } }),
      (error: unknown) => {
        assert.ok(error instanceof ValidationError, String(error));
        assert.deepEqual(
          error.issues.map((i) => i.path),
          ['data'],
        );
        assert.match(error.message, /from version 1 to 3 fails the contract's schema/);
      },
    ],
    [
      'a missing step',
      { version: 3, migrations: { 2: steps[2]! } },
      (error: unknown) => {
        assert.ok(error instanceof VersionIncompatibilityError, String(error));
        assert.equal(error.step, 3);
        assert.match(error.message, /no migration step 3/);
      },
    ],
    [
      'a step returning something that is not JSON',
      contractV(3, { migrations: { ...steps, 3: () => ({ when: new Date() }) as unknown as JsonValue } }),
      (error: unknown) => {
        assert.ok(error instanceof ValidationError, String(error));
        assert.deepEqual(
          error.issues.map((i) => i.path),
          ['data.when'],
        );
      },
    ],
  ] as const) {
    it(`${what} leaves the stored bytes identical and the plugin untouched`, async (t) => {
      const { storage, manager, snapshot } = fileSetup(t);
      const plugin = new Holder('fails', 'untouched', contract as StateContract);
      await seed(storage, plugin, V1, 1);
      const before = snapshot();
      const error = await manager.loadState(plugin).then(
        () => assert.fail('expected the load to fail'),
        (e: unknown) => e,
      );
      check(error);
      assert.match((error as Error).message, new RegExp(plugin.id));
      assert.deepEqual(snapshot(), before, 'storage is byte-identical');
      assert.deepEqual(plugin.restored, [], 'setState was not called');
      assert.deepEqual(
        (await storage.listRevisions!(plugin.id)).map((r) => r.revision),
        [1],
      );
    });
  }

  it('a state stored at a newer version is refused, also under the default policy', async (t) => {
    for (const onInvalidState of ['throw', 'default'] as const) {
      const { storage, manager, snapshot } = fileSetup(t, { onInvalidState });
      const plugin = new Holder('newer', 'mine', { version: 2, default: 'fallback' });
      await seed(storage, plugin, { future: true }, 5);
      const before = snapshot();
      const error = await manager.loadState(plugin).then(
        () => assert.fail('expected a refusal'),
        (e: unknown) => e as VersionIncompatibilityError,
      );
      assert.ok(error instanceof VersionIncompatibilityError);
      assert.equal(error.storedVersion, 5);
      assert.equal(error.supportedVersion, 2);
      assert.deepEqual(plugin.restored, [], `${onInvalidState}: no default stands in for newer data`);
      assert.deepEqual(snapshot(), before);
    }
  });
});

describe('defaults and the invalid-state policy', () => {
  it('with nothing stored, the plugin gets a fresh copy of the default, and nothing is saved', async (t) => {
    const { storage, manager } = fileSetup(t);
    const shared = { tabs: [4] };
    const a = new Holder('default-a', null, { version: 2, default: shared });
    await manager.loadState(a);
    assert.deepEqual(a.restored, [{ tabs: [4] }]);
    (a.restored[0] as { tabs: number[] }).tabs.push(8);
    assert.deepEqual(shared, { tabs: [4] }, 'the contract’s default is never aliased');
    assert.equal(await storage.loadState(a.id), undefined, 'a default is not saved until the plugin saves');
    const b = new Holder('default-b', null, { version: 1, default: () => ({ made: 'now' }) });
    await manager.loadState(b);
    assert.deepEqual(b.restored, [{ made: 'now' }]);
    const none = new Holder('no-default', 'own', { version: 1 });
    await manager.loadState(none);
    assert.deepEqual(none.restored, [], 'without a default the plugin keeps its own state');
  });

  it('a default that fails the schema is a contract error', async (t) => {
    const { manager } = fileSetup(t);
    const plugin = new Holder('bad-default', null, { version: 3, schema: v3Schema, default: { role: 'x' } });
    await assert.rejects(manager.loadState(plugin), (e: unknown) => {
      assert.ok(e instanceof ValidationError);
      assert.match(e.message, /default in the stateContract/);
      return true;
    });
  });

  for (const [what, prepare] of [
    [
      'corrupt',
      async (dir: string, storage: PluginStateStorage, plugin: Plugin) => {
        await seed(storage, plugin, V3, 3);
        const file = readdirSync(dir).find((name) => name === `${plugin.id}.json`)!;
        const { writeFileSync } = await import('node:fs');
        writeFileSync(join(dir, file), '{"format":1,"pluginId":"');
      },
    ],
    [
      'failing the schema',
      async (_: string, storage: PluginStateStorage, plugin: Plugin) =>
        seed(storage, plugin, { role: 'nobody' }, 3),
    ],
    [
      'not migratable',
      async (_: string, storage: PluginStateStorage, plugin: Plugin) =>
        seed(storage, plugin, { no: 'name' }, 1),
    ],
  ] as const) {
    it(`a ${what} state: 'throw' fails, 'default' hands the default, reports, and keeps the record`, async (t) => {
      const contract = contractV(3, { schema: v3Schema, default: { role: 'user', first: '', last: '' } });
      const strict = fileSetup(t);
      const plugin = new Holder(`policy-${what}`, 'own', contract);
      await prepare(strict.dir, strict.storage, plugin);
      const before = strict.snapshot();
      await assert.rejects(strict.manager.loadState(plugin));
      assert.deepEqual(plugin.restored, []);
      await strict.manager.close();

      const lenient = new PluginStateManager(new FileSystemStateStorage(strict.dir), {
        onInvalidState: 'default',
        onReport: (r) => strict.reports.push(r),
      });
      t.after(() => lenient.close());
      strict.reports.length = 0;
      await lenient.loadState(plugin);
      assert.deepEqual(plugin.restored, [{ role: 'user', first: '', last: '' }]);
      assert.deepEqual(strict.snapshot(), before, 'the bad record is kept byte-identical');
      const fallback = strict.reports.find((r) => r.recovered === true && r.operation === 'loadState');
      assert.ok(fallback, JSON.stringify(strict.reports.map((r) => r.message)));
      assert.equal(fallback.pluginId, plugin.id);
      assert.match(fallback.message, /got its contract default.*kept untouched/);
      assert.ok(fallback.code, 'the report carries the error code');
    });
  }

  it('a schema that cannot compile is a contract error that no default hides', async (t) => {
    const { storage, manager, snapshot } = fileSetup(t, { onInvalidState: 'default' });
    const broken = {
      version: 3,
      migrations: steps,
      schema: { type: 'object', propertees: {} },
      default: 'x',
    };
    const plugin = new Holder('broken-schema', 'own', broken as unknown as StateContract);
    await seed(storage, plugin, V1, 1);
    const before = snapshot();
    for (const operation of [() => manager.loadState(plugin), () => manager.saveState(plugin)]) {
      await assert.rejects(operation(), (e: unknown) => {
        assert.ok(e instanceof ValidationError, String(e));
        assert.match(e.message, new RegExp(`schema in the stateContract of plugin ${plugin.id}.*propertees`));
        return true;
      });
    }
    assert.deepEqual(plugin.restored, [], 'no default stood in');
    assert.deepEqual(snapshot(), before);
  });

  it('an invalid onInvalidState is refused when the manager is made', () => {
    assert.throws(
      () => new PluginStateManager(new MemoryStateStorage(), { onInvalidState: 'ignore' as 'throw' }),
      ValidationError,
    );
  });
});

describe('references', () => {
  const pointing = (name: string, targets: string[]) =>
    new Holder(
      name,
      { links: targets },
      {
        version: 1,
        references: (data) => (data as { links: string[] }).links,
      },
    );

  it('PluginStateManager: a reference must be a stored state', async (t) => {
    const { storage, manager } = fileSetup(t);
    const target = new Holder('target', 'here');
    const missingA = pluginIdFromName('missing-a');
    const missingB = pluginIdFromName('missing-b');
    const plugin = pointing('pointer', [target.id.toUpperCase(), missingA, missingB]);
    await manager.saveState(target);
    const error = await manager.saveState(plugin).then(
      () => assert.fail('expected a ValidationError'),
      (e: unknown) => e as ValidationError,
    );
    assert.ok(error instanceof ValidationError);
    assert.deepEqual(
      error.issues.map((i) => i.message).sort(),
      [`${missingA} does not exist`, `${missingB} does not exist`].sort(),
    );
    assert.match(error.message, new RegExp(`${missingA}.*${missingB}|${missingB}.*${missingA}`));
    assert.equal(await storage.loadState(plugin.id), undefined, 'nothing written');
    const self = pointing('self', []);
    (self.state as { links: string[] }).links.push(self.id);
    await manager.saveState(self); // a state may point at its own plugin before its first save
    await assert.rejects(manager.saveState(pointing('garbage', ['not-a-uuid'])), ValidationError);
  });

  it('PluginManager: a reference must be a registered plugin', async () => {
    const manager = PluginManager.withStateStorage(new MemoryStateStorage());
    const other = new Holder('other', 'x');
    const plugin = pointing('pm-pointer', [other.id]);
    manager.registerPlugin(plugin);
    await assert.rejects(manager.savePluginState(plugin.id), (e: unknown) => {
      assert.ok(e instanceof ValidationError);
      assert.match(e.message, new RegExp(`${other.id}`));
      return true;
    });
    manager.registerPlugin(other);
    await manager.savePluginState(plugin.id);
    assert.deepEqual((await manager.getPluginState(plugin.id))?.data, { links: [other.id] });
    await manager.shutdown();
  });
});

describe('planning and migrateAll', () => {
  it('planMigration tells what a load would do and writes nothing', async (t) => {
    const { storage, manager, snapshot } = fileSetup(t);
    const current = new Holder('plan-current', null, contractV(3));
    const old = new Holder('plan-old', null, contractV(3));
    const gap = new Holder('plan-gap', null, { version: 3, migrations: { 3: steps[3]! } });
    const newer = new Holder('plan-newer', null, contractV(3));
    const none = new Holder('plan-none', null, contractV(3));
    await seed(storage, current, V3, 3);
    await seed(storage, old, V1, 1);
    await seed(storage, gap, V1, 1);
    await seed(storage, newer, V1, 9);
    const before = snapshot();
    const plans = await Promise.all([current, old, gap, newer, none].map((p) => manager.planMigration(p)));
    assert.deepEqual(
      plans.map(({ status, fromVersion, toVersion, steps: s }) => ({
        status,
        fromVersion,
        toVersion,
        steps: s,
      })),
      [
        { status: 'current', fromVersion: 3, toVersion: 3, steps: [] },
        { status: 'migrate', fromVersion: 1, toVersion: 3, steps: [2, 3] },
        { status: 'incompatible', fromVersion: 1, toVersion: 3, steps: [2, 3] },
        { status: 'incompatible', fromVersion: 9, toVersion: 3, steps: [] },
        { status: 'nothing-stored', fromVersion: undefined, toVersion: 3, steps: [] },
      ],
    );
    assert.ok(plans[2]!.error instanceof VersionIncompatibilityError);
    assert.equal((plans[2]!.error as VersionIncompatibilityError).step, 2);
    assert.deepEqual(snapshot(), before, 'planning writes nothing');
    assert.deepEqual(
      [current, old, gap, newer, none].flatMap((p) => p.restored),
      [],
    );
  });

  it('migrateAll reports each plugin, goes on after a failure and calls no setState', async (t) => {
    const { storage, manager, reports } = fileSetup(t);
    const ok = new Holder('all-ok', null, contractV(3));
    const current = new Holder('all-current', null, contractV(3));
    const broken = new Holder('all-broken', null, contractV(3));
    const none = new Holder('all-none', null, contractV(3));
    await seed(storage, ok, V1, 1);
    await seed(storage, current, V3, 3);
    await seed(storage, broken, { admin: false }, 1); // no name: step 3 throws on undefined.split
    const plugins = [ok, current, broken, none];

    const dry = await manager.migrateAll(plugins, { dryRun: true });
    assert.deepEqual(
      dry.map((line) => line.status),
      ['would-migrate', 'current', 'failed', 'nothing-stored'],
    );
    assert.equal((await storage.loadState(ok.id))?.revision, 1, 'a dry run saves nothing');

    const report = await manager.migrateAll(plugins);
    assert.deepEqual(
      report.map(({ pluginId, status, fromVersion, toVersion, revision }) => ({
        pluginId,
        status,
        fromVersion,
        toVersion,
        revision,
      })),
      [
        { pluginId: ok.id, status: 'migrated', fromVersion: 1, toVersion: 3, revision: 2 },
        { pluginId: current.id, status: 'current', fromVersion: 3, toVersion: 3, revision: undefined },
        { pluginId: broken.id, status: 'failed', fromVersion: undefined, toVersion: 3, revision: undefined },
        {
          pluginId: none.id,
          status: 'nothing-stored',
          fromVersion: undefined,
          toVersion: 3,
          revision: undefined,
        },
      ],
    );
    assert.ok(report[2]!.error instanceof VersionIncompatibilityError);
    assert.deepEqual((await storage.loadState(ok.id))?.data, V3);
    assert.deepEqual(
      (await storage.loadState(broken.id))?.data,
      { admin: false },
      'the failure wrote nothing',
    );
    assert.deepEqual(
      plugins.flatMap((p) => p.restored),
      [],
      'no setState',
    );
    assert.ok(
      reports.some((r) => r.operation === 'migrateAll' && r.pluginId === broken.id && r.recovered === false),
    );

    const pm = PluginManager.withStateStorage(new MemoryStateStorage());
    const registered = new Holder('pm-migrate', null, contractV(3));
    pm.registerPlugin(registered);
    await pm.setPluginState({
      pluginId: registered.id,
      data: V1,
      version: 1,
      lastModified: new Date(),
    } as PluginState);
    assert.equal((await pm.planMigration(registered.id)).status, 'migrate');
    assert.deepEqual(
      (await pm.migrateAll()).map((line) => line.status),
      ['migrated'],
    );
    assert.deepEqual(
      (await pm.listRevisions(registered.id)).map((r) => r.revision),
      [2, 1],
    );
    await pm.shutdown();
  });

  it('concurrent loads of one plugin in one process migrate once', async (t) => {
    const { storage, manager } = fileSetup(t);
    let runs = 0;
    const plugin = new Holder('concurrent', null, {
      version: 2,
      migrations: {
        2: async (data) => {
          runs++;
          await new Promise((resolve) => setTimeout(resolve, 5));
          return { migrated: data };
        },
      },
    });
    await seed(storage, plugin, 'v1', 1);
    await Promise.all(Array.from({ length: 5 }, () => manager.loadState(plugin)));
    assert.equal(runs, 1, 'the step ran once');
    assert.equal((await storage.loadState(plugin.id))?.revision, 2, 'one migration saved');
    assert.deepEqual(
      plugin.restored,
      Array.from({ length: 5 }, () => ({ migrated: 'v1' })),
    );
  });

  it('a migration that loses a compare-and-set reads again and does not migrate twice', async () => {
    const storage = new MemoryStateStorage();
    const manager = new PluginStateManager(storage);
    const plugin = new Holder('race', null, {
      version: 2,
      migrations: {
        2: async (data) => {
          // Another instance migrates first, while this step runs.
          if ((await storage.loadState(plugin.id))?.version === 1) {
            await storage.saveState({
              pluginId: plugin.id,
              data: { by: 'other' },
              version: 2,
              lastModified: new Date(),
            });
          }
          return { by: 'me', was: data };
        },
      },
    });
    await seed(storage, plugin, 'v1', 1);
    await manager.loadState(plugin);
    assert.deepEqual(plugin.restored, [{ by: 'other' }], 'the winner’s state is handed over');
    assert.equal((await storage.loadState(plugin.id))?.revision, 2, 'nothing overwritten');
  });
});

describe('contract checks', () => {
  for (const [what, contract] of [
    ['a version of 0', { version: 0 }],
    ['a fractional version', { version: 1.5 }],
    ['a step for version 1', { version: 2, migrations: { 1: (d: JsonValue) => d } }],
    ['a step beyond the version', { version: 2, migrations: { 3: (d: JsonValue) => d } }],
    ['a step that is not a function', { version: 2, migrations: { 2: 'nope' } }],
    ['a schema that is neither kind', { version: 1, schema: 'string' }],
    ['references that is not a function', { version: 1, references: ['x'] }],
  ] as const) {
    it(`${what} is a ValidationError naming the plugin, before any I/O`, async () => {
      const storage = new MemoryStateStorage();
      const manager = new PluginStateManager(storage);
      const plugin = new Holder(`contract-${what}`, 1, contract as unknown as StateContract);
      for (const operation of [() => manager.saveState(plugin), () => manager.loadState(plugin)]) {
        await assert.rejects(operation(), (e: unknown) => {
          assert.ok(e instanceof ValidationError);
          assert.match(e.message, new RegExp(`stateContract of plugin ${plugin.id}`));
          return true;
        });
      }
      assert.equal(await storage.loadState(plugin.id), undefined);
    });
  }
});
