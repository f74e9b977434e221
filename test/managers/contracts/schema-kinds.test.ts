// A state contract with each kind of schema the managers accept: zod 4, valibot and arktype (through
// Standard Schema), and JSON Schema through ajv (draft 2020-12 by default, draft-07 when `$schema`
// says so). Each runs over memory, file and SQLite storage.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { type } from 'arktype';
import * as v from 'valibot';
import { z } from 'zod';
import {
  type JsonValue,
  type PluginState,
  PluginStateManager,
  type PluginStateStorage,
  type StateContract,
  type StateReport,
  type StateSchema,
  ValidationError,
  VersionIncompatibilityError,
} from '../../../src/index.js';
import { holder, type StorageKind, storageKinds } from './storages.js';

interface Order {
  name: string;
  items: Array<{ name: string; qty: number }>;
  email?: string;
  at?: string;
  pair?: [string, number];
}

interface SchemaKind {
  name: string;
  schema: StateSchema;
  valid: Order;
  /** A state with several problems at once. */
  invalid: JsonValue;
  /** Every path `invalid` is wrong at. */
  invalidPaths: string[];
}

const validOrder: Order = {
  name: 'groceries',
  items: [
    { name: 'apples', qty: 3 },
    { name: 'pears', qty: 2 },
  ],
};
const brokenOrder: JsonValue = {
  name: 5,
  items: [
    { name: 'apples', qty: 3 },
    { name: 7, qty: 'two' },
  ],
};
const brokenPaths = ['data.name', 'data.items[1].name', 'data.items[1].qty'];

const jsonItem = {
  type: 'object',
  required: ['name', 'qty'],
  properties: { name: { type: 'string' }, qty: { type: 'number' } },
  additionalProperties: false,
};

const schemaKinds: SchemaKind[] = [
  {
    name: 'zod 4',
    schema: z.object({ name: z.string(), items: z.array(z.object({ name: z.string(), qty: z.number() })) }),
    valid: validOrder,
    invalid: brokenOrder,
    invalidPaths: brokenPaths,
  },
  {
    name: 'valibot',
    schema: v.object({ name: v.string(), items: v.array(v.object({ name: v.string(), qty: v.number() })) }),
    valid: validOrder,
    invalid: brokenOrder,
    invalidPaths: brokenPaths,
  },
  {
    name: 'arktype',
    schema: type({ name: 'string', items: type({ name: 'string', qty: 'number' }).array() }),
    valid: validOrder,
    invalid: brokenOrder,
    invalidPaths: brokenPaths,
  },
  {
    name: 'JSON Schema 2020-12 (default draft) with formats',
    schema: {
      type: 'object',
      required: ['name', 'items', 'email', 'at'],
      properties: {
        name: { type: 'string' },
        email: { type: 'string', format: 'email' },
        at: { type: 'string', format: 'date-time' },
        items: { type: 'array', items: { $ref: '#/$defs/item' } },
      },
      additionalProperties: false,
      $defs: { item: jsonItem },
    },
    valid: { ...validOrder, email: 'ada@example.com', at: '2024-05-01T12:30:00Z' },
    invalid: {
      name: 'groceries',
      email: 'not an email',
      at: 'yesterday',
      items: [
        { name: 'apples', qty: 3 },
        { name: 7, qty: 1 },
      ],
    },
    invalidPaths: ['data.email', 'data.at', 'data.items[1].name'],
  },
  {
    name: 'JSON Schema draft-07 ($schema), tuple items and definitions',
    schema: {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      required: ['name', 'items', 'email', 'pair'],
      properties: {
        name: { type: 'string' },
        email: { type: 'string', format: 'email' },
        // The array form of `items` exists in draft-07 only; under 2020-12 this schema is invalid.
        pair: {
          type: 'array',
          items: [{ type: 'string' }, { type: 'number' }],
          minItems: 2,
          additionalItems: false,
        },
        items: { type: 'array', items: { $ref: '#/definitions/item' } },
      },
      additionalProperties: false,
      definitions: { item: jsonItem },
    },
    valid: { ...validOrder, email: 'ada@example.com', pair: ['size', 3] },
    invalid: {
      name: 'groceries',
      email: 'nope',
      pair: ['size', 'large'],
      items: [
        { name: 'apples', qty: 3 },
        { name: 7, qty: 1 },
      ],
    },
    invalidPaths: ['data.email', 'data.pair[1]', 'data.items[1].name'],
  },
];

function collector(): { reports: StateReport[]; onReport: (report: StateReport) => void } {
  const reports: StateReport[] = [];
  return { reports, onReport: (report) => reports.push(report) };
}

/** What a stored record looks like, comparable with deepEqual (dates as numbers). */
function snapshot(state: PluginState | undefined): unknown {
  return state && { ...state, lastModified: state.lastModified.getTime() };
}

async function revisionsOf(storage: PluginStateStorage, pluginId: string): Promise<unknown[]> {
  const revisions = await storage.listRevisions!(pluginId);
  return revisions.map((revision) => ({ ...revision, lastModified: revision.lastModified.getTime() }));
}

/** Checks a schema refusal: a ValidationError listing every expected path, each with a message. */
function assertIssues(error: unknown, pluginId: string, paths: string[]): true {
  assert.ok(error instanceof ValidationError, `expected a ValidationError, got ${String(error)}`);
  assert.equal(error.pluginId, pluginId);
  const found = error.issues.map((issue) => issue.path);
  for (const path of paths) {
    assert.ok(found.includes(path), `issue at ${path} missing; issues: ${JSON.stringify(error.issues)}`);
    assert.ok(error.message.includes(path), `the message should name ${path}: ${error.message}`);
  }
  assert.ok(error.issues.length >= paths.length);
  for (const issue of error.issues) {
    assert.equal(typeof issue.message, 'string');
    assert.ok(issue.message.length > 0, `issue at ${issue.path} has no message`);
  }
  return true;
}

function suite(storageKind: StorageKind, kind: SchemaKind): void {
  const open = async (t: TestContext) => {
    const storage = await storageKind.open(t);
    const { reports, onReport } = collector();
    return { storage, reports, manager: new PluginStateManager(storage, { onReport }) };
  };
  const contract = (version = 1, migrations?: StateContract['migrations']): StateContract<Order> =>
    ({ version, schema: kind.schema, ...(migrations ? { migrations } : {}) }) as StateContract<Order>;

  describe(`${kind.name} on ${storageKind.name} storage`, () => {
    it('saves a valid state, stamped with the contract version, and loads it back', async (t) => {
      const { storage, manager } = await open(t);
      const saver = holder('valid', contract(3), structuredClone(kind.valid));
      await manager.saveState(saver);
      const stored = await storage.loadState(saver.id);
      assert.deepEqual(stored?.data, kind.valid);
      assert.equal(stored?.version, 3);
      assert.equal(stored?.revision, 1);

      const loader = holder('valid', contract(3), { name: '', items: [] } as Order);
      await manager.loadState(loader);
      assert.deepEqual(loader.restored, [kind.valid]);
      assert.equal(
        (await storage.loadState(saver.id))?.revision,
        1,
        'a load at the current version writes nothing',
      );
    });

    it('refuses an invalid state with every issue and its path, and writes nothing', async (t) => {
      const { storage, manager, reports } = await open(t);
      const plugin = holder('invalid', contract(), kind.invalid as unknown as Order);
      await assert.rejects(manager.saveState(plugin), (error) =>
        assertIssues(error, plugin.id, kind.invalidPaths),
      );
      assert.equal(await storage.loadState(plugin.id), undefined, 'nothing may be stored');
      assert.deepEqual(await storage.listRevisions!(plugin.id), []);
      assert.equal(reports.filter((report) => report.operation === 'saveState').length, 1);

      // Over a stored state: the revision and the data stay as they were.
      plugin.value = structuredClone(kind.valid);
      await manager.saveState(plugin);
      const before = await storage.loadState(plugin.id);
      const revisionsBefore = await revisionsOf(storage, plugin.id);
      plugin.value = kind.invalid as unknown as Order;
      await assert.rejects(manager.saveState(plugin), (error) =>
        assertIssues(error, plugin.id, kind.invalidPaths),
      );
      assert.deepEqual(snapshot(await storage.loadState(plugin.id)), snapshot(before));
      assert.equal(before?.revision, 1);
      assert.deepEqual(await revisionsOf(storage, plugin.id), revisionsBefore);
    });

    it('refuses a stored state at the current version that fails the schema, and leaves it', async (t) => {
      const { storage, manager } = await open(t);
      const plugin = holder('stored-invalid', contract(2), structuredClone(kind.valid));
      await storage.saveState({
        pluginId: plugin.id,
        data: kind.invalid,
        version: 2,
        lastModified: new Date(),
      });
      const before = await storage.loadState(plugin.id);
      await assert.rejects(manager.loadState(plugin), (error) =>
        assertIssues(error, plugin.id, kind.invalidPaths),
      );
      assert.deepEqual(plugin.restored, []);
      assert.deepEqual(snapshot(await storage.loadState(plugin.id)), snapshot(before));
    });

    it('migrates an older state whose result passes the schema, keeping the state before', async (t) => {
      const { storage, manager, reports } = await open(t);
      const plugin = holder(
        'migrated',
        contract(2, { 2: (data) => ({ ...kind.valid, name: (data as { title: string }).title }) }),
        { name: '', items: [] } as Order,
      );
      const old = await storage.saveState({
        pluginId: plugin.id,
        data: { title: 'from v1' },
        version: 1,
        lastModified: new Date(),
      });
      await manager.loadState(plugin);
      const expected = { ...kind.valid, name: 'from v1' };
      assert.deepEqual(plugin.restored, [expected]);
      const stored = await storage.loadState(plugin.id);
      assert.deepEqual(stored?.data, expected);
      assert.equal(stored?.version, 2);
      assert.equal(stored?.revision, 2);
      assert.deepEqual(snapshot(await storage.loadRevision!(plugin.id, 1)), snapshot(old));
      assert.equal(reports.filter((report) => report.operation === 'migrate').length, 1);
    });

    it('refuses a migration whose result fails the schema, leaving the stored record identical', async (t) => {
      const { storage, manager, reports } = await open(t);
      let calls = 0;
      const plugin = holder(
        'bad-migration',
        contract(2, {
          2: () => {
            calls++;
            return kind.invalid;
          },
        }),
        structuredClone(kind.valid),
      );
      await storage.saveState({
        pluginId: plugin.id,
        data: { title: 'v1' },
        version: 1,
        lastModified: new Date(),
      });
      const before = await storage.loadState(plugin.id);
      const revisionsBefore = await revisionsOf(storage, plugin.id);
      await assert.rejects(manager.loadState(plugin), (error) =>
        assertIssues(error, plugin.id, kind.invalidPaths),
      );
      assert.equal(calls, 1);
      assert.deepEqual(plugin.restored, [], 'setState must not be called');
      assert.deepEqual(snapshot(await storage.loadState(plugin.id)), snapshot(before));
      assert.deepEqual(await revisionsOf(storage, plugin.id), revisionsBefore);
      assert.equal(reports.filter((report) => report.operation === 'migrate').length, 0);

      // onInvalidState: 'default' hands the plugin its default instead, and still writes nothing.
      const tolerant = new PluginStateManager(storage, { onInvalidState: 'default', onReport: () => {} });
      const withDefault = holder(
        'bad-migration',
        { ...contract(2, { 2: () => kind.invalid }), default: () => structuredClone(kind.valid) },
        { name: '', items: [] } as Order,
      );
      await tolerant.loadState(withDefault);
      assert.deepEqual(withDefault.restored, [kind.valid]);
      assert.deepEqual(snapshot(await storage.loadState(plugin.id)), snapshot(before));
    });
  });
}

for (const storageKind of storageKinds) {
  for (const kind of schemaKinds) suite(storageKind, kind);
}

describe('the Standard Schema output is what is stored (zod transforms and stripping)', () => {
  const schema = z.object({
    title: z.string().trim().toLowerCase(),
    tags: z.array(z.string()).default([]),
    size: z.string().transform((text) => Number.parseInt(text, 10)),
  });
  type Input = z.input<typeof schema>;
  const contract = (version = 1, migrations?: StateContract['migrations']) =>
    ({ version, schema, ...(migrations ? { migrations } : {}) }) as unknown as StateContract<Input>;

  for (const storageKind of storageKinds) {
    describe(`on ${storageKind.name} storage`, () => {
      it('stores the transformed value, with unknown keys stripped and defaults filled', async (t) => {
        const storage = await storageKind.open(t);
        const manager = new PluginStateManager(storage);
        const plugin = holder('transform', contract(), {
          title: '  Hello World ',
          size: '42',
          cache: { huge: true },
        } as Input);
        await manager.saveState(plugin);
        const stored = await storage.loadState(plugin.id);
        assert.deepEqual(stored?.data, { title: 'hello world', tags: [], size: 42 });
        assert.equal(JSON.stringify(stored?.data), '{"title":"hello world","tags":[],"size":42}');
      });

      it('hands the plugin the schema output of a stored state, without rewriting the record', async (t) => {
        const storage = await storageKind.open(t);
        const manager = new PluginStateManager(storage);
        const plugin = holder('transform-load', contract(), { title: '', size: '0' } as Input);
        const raw = { title: '  MIXED Case ', size: '7', stale: 1 };
        await storage.saveState({ pluginId: plugin.id, data: raw, version: 1, lastModified: new Date() });
        const before = await storage.loadState(plugin.id);
        await manager.loadState(plugin);
        assert.deepEqual(plugin.restored, [{ title: 'mixed case', tags: [], size: 7 }]);
        assert.deepEqual(snapshot(await storage.loadState(plugin.id)), snapshot(before));
      });

      it('stores the schema output of a migration result', async (t) => {
        const storage = await storageKind.open(t);
        const manager = new PluginStateManager(storage);
        const plugin = holder(
          'transform-migrate',
          contract(2, {
            2: (data) => ({ title: `  ${(data as { name: string }).name}  `, size: '5', old: data }),
          }),
          { title: '', size: '0' } as Input,
        );
        await storage.saveState({
          pluginId: plugin.id,
          data: { name: 'OLD' },
          version: 1,
          lastModified: new Date(),
        });
        await manager.loadState(plugin);
        const expected = { title: 'old', tags: [], size: 5 };
        assert.deepEqual(plugin.restored, [expected]);
        const stored = await storage.loadState(plugin.id);
        assert.deepEqual(stored?.data, expected);
        assert.equal(stored?.version, 2);
        assert.deepEqual((await storage.loadRevision!(plugin.id, 1))?.data, { name: 'OLD' });
      });

      it('refuses a schema output that is not JSON (a Date), naming the path, and writes nothing', async (t) => {
        const storage = await storageKind.open(t);
        const manager = new PluginStateManager(storage);
        const dated = z.object({ when: z.string().transform((text) => new Date(text)) });
        const plugin = holder('transform-date', { version: 1, schema: dated } as unknown as StateContract, {
          when: '2024-01-01T00:00:00Z',
        });
        await assert.rejects(manager.saveState(plugin), (error) => {
          assert.ok(error instanceof ValidationError, String(error));
          assert.ok(
            error.issues.some((issue) => issue.path === 'data.when'),
            JSON.stringify(error.issues),
          );
          return true;
        });
        assert.equal(await storage.loadState(plugin.id), undefined);
      });
    });
  }
});

describe('an unusable schema (malformed JSON Schema, throwing validator)', () => {
  const malformed: Array<{ name: string; schema: StateSchema; detail: RegExp }> = [
    {
      name: 'a type that does not exist',
      schema: { type: 'object', properties: { a: { type: 'nope' } } },
      detail: /type/,
    },
    {
      name: 'an unknown keyword (ajv strict mode)',
      schema: { type: 'object', colour: 'red', properties: {} },
      detail: /colour/,
    },
    {
      name: 'a draft-07 tuple refused by 2020-12 (no $schema)',
      schema: { type: 'array', items: [{ type: 'string' }], minItems: 1, additionalItems: false },
      detail: /items/,
    },
  ];

  /** The error must say which plugin's contract is wrong, that it is the schema, and what ajv found. */
  function clearError(pluginId: string, detail: RegExp) {
    return (error: unknown): true => {
      assert.ok(error instanceof Error, String(error));
      assert.ok(
        error instanceof ValidationError,
        `expected a ValidationError naming the plugin, got ${error.constructor.name}: ${error.message}`,
      );
      assert.equal(error.pluginId, pluginId);
      assert.ok(
        error.message.includes(pluginId),
        `the message should name plugin ${pluginId}: ${error.message}`,
      );
      assert.match(error.message, /schema/i);
      assert.match(error.message, detail);
      assert.ok(
        error.issues.some((issue) => issue.path === 'stateContract.schema' && detail.test(issue.message)),
        JSON.stringify(error.issues),
      );
      return true;
    };
  }

  malformed.push({
    name: 'a $schema of a draft that is not supported (draft-04)',
    schema: { $schema: 'http://json-schema.org/draft-04/schema#', type: 'object' },
    detail: /draft-04/,
  });
  // Not JSON Schema, but as unusable: a Standard Schema validator that throws instead of returning issues.
  const throwing: StateSchema = {
    '~standard': {
      version: 1,
      vendor: 'test',
      validate: () => {
        throw new Error('validator crashed on purpose');
      },
    },
  };
  malformed.push({
    name: 'a Standard Schema validator that throws',
    schema: throwing,
    detail: /crashed on purpose/,
  });

  for (const storageKind of storageKinds) {
    for (const { name, schema, detail } of malformed) {
      it(`${name}: fails a save and a load with an error naming the plugin, on ${storageKind.name} storage`, async (t) => {
        const storage = await storageKind.open(t);
        const manager = new PluginStateManager(storage);
        const plugin = holder('malformed', { version: 2, schema } as StateContract, { a: 1 });
        await assert.rejects(manager.saveState(plugin), clearError(plugin.id, detail));
        assert.equal(await storage.loadState(plugin.id), undefined);

        await storage.saveState({
          pluginId: plugin.id,
          data: { a: 1 },
          version: 2,
          lastModified: new Date(),
        });
        const before = await storage.loadState(plugin.id);
        await assert.rejects(manager.loadState(plugin), clearError(plugin.id, detail));
        assert.deepEqual(plugin.restored, []);
        assert.deepEqual(snapshot(await storage.loadState(plugin.id)), snapshot(before));
      });
    }
  }
});

describe('migration failures leave the record identical (schema-independent)', () => {
  for (const storageKind of storageKinds) {
    it(`a throwing step is a VersionIncompatibilityError with the step and its cause, on ${storageKind.name} storage`, async (t) => {
      const storage = await storageKind.open(t);
      const manager = new PluginStateManager(storage);
      const boom = new Error('step 3 exploded');
      const plugin = holder(
        'throwing-step',
        {
          version: 3,
          schema: schemaKinds[0]!.schema,
          migrations: {
            2: (data) => data,
            3: () => {
              throw boom;
            },
          },
        } as StateContract<Order>,
        structuredClone(validOrder),
      );
      await storage.saveState({
        pluginId: plugin.id,
        data: validOrder as unknown as JsonValue,
        version: 1,
        lastModified: new Date(),
      });
      const before = await storage.loadState(plugin.id);
      await assert.rejects(manager.loadState(plugin), (error) => {
        assert.ok(error instanceof VersionIncompatibilityError, String(error));
        assert.equal(error.step, 3);
        assert.equal(error.storedVersion, 1);
        assert.equal(error.supportedVersion, 3);
        assert.equal(error.cause, boom);
        return true;
      });
      assert.deepEqual(snapshot(await storage.loadState(plugin.id)), snapshot(before));
      assert.equal((await storage.listRevisions!(plugin.id)).length, 1);
    });
  }
});

describe('ordinary JSON Schema forms are accepted (ajv strict mode refuses only unknown keywords)', () => {
  const forms: Array<{
    name: string;
    schema: StateSchema;
    valid: JsonValue;
    invalid: JsonValue;
    path: string;
  }> = [
    {
      name: 'a union type (nullable)',
      schema: { type: 'object', properties: { note: { type: ['string', 'null'] } } },
      valid: { note: null },
      invalid: { note: 3 },
      path: 'data.note',
    },
    {
      name: 'keywords without a type',
      schema: { properties: { n: { minimum: 0 } }, required: ['n'] },
      valid: { n: 1 },
      invalid: { n: -1 },
      path: 'data.n',
    },
    {
      name: 'required names without properties',
      schema: { type: 'object', required: ['a', 'b'] },
      valid: { a: 1, b: 2 },
      invalid: { a: 1 },
      path: 'data',
    },
    {
      name: 'prefixItems without minItems (2020-12 tuple)',
      schema: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'integer' }], items: false },
      valid: ['a', 1],
      invalid: ['a', 1.5, 'extra'],
      path: 'data[1]',
    },
    {
      name: 'an explicit 2020-12 $schema',
      schema: {
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        type: 'object',
        properties: { a: { type: 'string' } },
      },
      valid: { a: 'x' },
      invalid: { a: 1 },
      path: 'data.a',
    },
  ];
  for (const form of forms) {
    it(form.name, async (t) => {
      const storage = await storageKinds[0]!.open(t);
      const manager = new PluginStateManager(storage);
      const plugin = holder('forms', { version: 1, schema: form.schema } as StateContract, form.valid);
      await manager.saveState(plugin);
      assert.deepEqual((await storage.loadState(plugin.id))?.data, form.valid);
      plugin.value = form.invalid;
      await assert.rejects(manager.saveState(plugin), (error) => assertIssues(error, plugin.id, [form.path]));
      assert.equal((await storage.loadState(plugin.id))?.revision, 1);
    });
  }
});
