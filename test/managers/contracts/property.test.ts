// Property: any JSON state the library accepts survives save → load through a state contract with
// no migrations unchanged, on memory, file and SQLite storage.
//
// "Unchanged" means: what the plugin gets back is the JSON of what it saved. It deep-equals
// JSON.parse(JSON.stringify(saved)) and serializes to the same text (same key order). That is the
// only promise JSON can keep: -0 is written as 0 and comes back as 0, on every backend.
// States holding a "__proto__" key or a "constructor.prototype" payload are refused by design
// (fast-check generates such keys on purpose); they are filtered out of the round-trip property
// and checked apart: refused, nothing stored.
//
// Runs are modest for CI: 200 per property on memory storage, 100 on file and SQLite storage.
// The long form runs 25x as many:
//
//   PLUGIN_STATE_LONG=1 node scripts/run-tests.mjs contracts/property
//
// A failure prints fast-check's seed and path; replay it with FC_SEED=<seed> FC_PATH=<path>.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  type JsonValue,
  PluginStateManager,
  type StateContract,
  ValidationError,
} from '../../../src/index.js';
import { holder, type StorageKind, storageKinds } from './storages.js';

const LONG = process.env.PLUGIN_STATE_LONG === '1';
const SCALE = LONG ? 25 : 1;
const RUNS: Record<StorageKind['name'], number> = {
  memory: 200 * SCALE,
  file: 100 * SCALE,
  sqlite: 100 * SCALE,
};

function replay(): Partial<fc.Parameters<unknown>> {
  const seed = process.env.FC_SEED;
  const path = process.env.FC_PATH;
  return seed === undefined ? {} : { seed: Number(seed), ...(path === undefined ? {} : { path }) };
}

/** False for a value holding what the library refuses by design (see the top of this file). */
function acceptable(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return true;
  if (Array.isArray(value)) return value.every(acceptable);
  for (const [key, child] of Object.entries(value)) {
    if (key === '__proto__') return false;
    if (
      key === 'constructor' &&
      child !== null &&
      typeof child === 'object' &&
      Object.hasOwn(child, 'prototype')
    ) {
      return false;
    }
    if (!acceptable(child)) return false;
  }
  return true;
}

/** ASCII-ish strings (fast-check's default) and any code points, lone surrogates included. */
const jsonState: fc.Arbitrary<JsonValue> = fc
  .oneof(fc.jsonValue(), fc.jsonValue({ stringUnit: 'binary' }))
  .filter(acceptable) as fc.Arbitrary<JsonValue>;

const contracts: Array<{ name: string; contract: StateContract | undefined; version: number }> = [
  { name: 'no contract', contract: undefined, version: 1 },
  { name: 'version 1, no schema', contract: { version: 1 }, version: 1 },
  { name: 'version 5, no schema', contract: { version: 5 }, version: 5 },
  { name: 'version 1, JSON Schema {}', contract: { version: 1, schema: {} }, version: 1 },
  { name: 'version 5, JSON Schema {}', contract: { version: 5, schema: {} }, version: 5 },
];

const asJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

for (const kind of storageKinds) {
  describe(`save → load round-trips any JSON state on ${kind.name} storage`, () => {
    for (const { name, contract, version } of contracts) {
      it(`${name} (${RUNS[kind.name]} runs)`, async (t) => {
        const storage = await kind.open(t);
        const manager = new PluginStateManager(storage, { secretScanning: 'off' });
        let lastRevision = 0;
        await fc.assert(
          fc.asyncProperty(jsonState, async (state) => {
            const saver = holder('property', contract, state);
            await manager.saveState(saver);
            const stored = await storage.loadState(saver.id);
            assert.equal(stored?.version, version);
            assert.equal(stored?.revision, lastRevision + 1);
            lastRevision = stored.revision!;
            assert.deepStrictEqual(stored.data, asJson(state));

            const loader = holder<JsonValue>('property', contract, 'untouched');
            await manager.loadState(loader);
            assert.equal(loader.restored.length, 1);
            const [received] = loader.restored;
            assert.deepStrictEqual(received, asJson(state));
            assert.equal(JSON.stringify(received), JSON.stringify(state));
            const after = await storage.loadState(saver.id);
            assert.equal(after?.revision, lastRevision, 'a load without migration writes nothing');
          }),
          // -0 is written as 0: it must come back as 0 (and the key order as it was).
          {
            numRuns: RUNS[kind.name],
            examples: [[{ z: -0, a: [-0, 0, 1e-320], '': { b: -0 } }], [-0]],
            ...replay(),
          },
        );
      });
    }

    it(`refuses a state holding a "__proto__" key anywhere, storing nothing (${Math.ceil(RUNS[kind.name] / 4)} runs)`, async (t) => {
      const storage = await kind.open(t);
      const manager = new PluginStateManager(storage, { secretScanning: 'off' });
      const poisoned = fc
        .tuple(jsonState, jsonState, fc.integer({ min: 0, max: 5 }))
        .map(([inner, payload, depth]) => {
          // JSON.parse makes a real own "__proto__" key, as a crafted input would.
          let text = `{"kept":${JSON.stringify(inner)},"__proto__":${JSON.stringify(payload)}}`;
          for (let level = 0; level < depth; level++) text = level % 2 ? `[${text}]` : `{"nested":${text}}`;
          return JSON.parse(text) as JsonValue;
        });
      await fc.assert(
        fc.asyncProperty(poisoned, async (state) => {
          const plugin = holder('poisoned', { version: 2 }, state);
          await assert.rejects(manager.saveState(plugin), (error) => {
            assert.ok(error instanceof ValidationError, String(error));
            assert.ok(
              error.issues.some(
                (issue) => issue.path.endsWith('["__proto__"]') || issue.path.endsWith('.__proto__'),
              ),
              JSON.stringify(error.issues),
            );
            return true;
          });
          assert.equal(await storage.loadState(plugin.id), undefined);
        }),
        { numRuns: Math.ceil(RUNS[kind.name] / 4), ...replay() },
      );
    });
  });
}
