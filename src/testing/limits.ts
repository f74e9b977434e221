import assert from 'node:assert/strict';
import { ValidationError } from '../core/errors.js';
import type { PluginStateStorage } from '../core/storage.js';
import type { JsonValue } from '../core/types.js';
import { nested, newId, rejectsWith, type Suite, stateOf } from './harness.js';
import { assertStored } from './revisions.js';

const MiB = 1024 * 1024;
const DEFAULT_DEPTH = 128;
const DEFAULT_BYTES = 10 * MiB;
const SMALL = { maxDepth: 4, maxBytes: 1024 };

/** A string whose JSON text (quotes included) is exactly `bytes` UTF-8 bytes of `unit`s. */
function stringOfJsonBytes(bytes: number, unit = 'a'): string {
  const unitBytes = Buffer.byteLength(JSON.stringify(unit)) - 2;
  assert.equal((bytes - 2) % unitBytes, 0, 'test setup: the size must be a whole number of units');
  const text = unit.repeat((bytes - 2) / unitBytes);
  assert.equal(Buffer.byteLength(JSON.stringify(text)), bytes, 'test setup: serialized size');
  return text;
}

/**
 * Saves `value` where `kept` is stored and expects a ValidationError naming the plugin id and
 * `data`, with the stored state left as it was.
 */
async function assertRefused(store: PluginStateStorage, value: JsonValue, what: string): Promise<void> {
  const id = newId();
  await store.saveState(stateOf(id, 'kept'));
  const error = await rejectsWith(what, ValidationError, 'VALIDATION', () =>
    store.saveState(stateOf(id, value)),
  );
  assert.ok(error.message.includes(id), `${what}: the message names the plugin id: ${error.message}`);
  assert.ok(error.message.includes('data'), `${what}: the message names 'data': ${error.message}`);
  await assertStored(store, id, 'kept', 1, what);
  const fresh = newId();
  await rejectsWith(`${what} (new id)`, ValidationError, 'VALIDATION', () =>
    store.saveState(stateOf(fresh, value)),
  );
  assert.equal(await store.loadState(fresh), undefined, `${what}: nothing stored for a new id`);
}

async function assertAccepted(store: PluginStateStorage, value: JsonValue, what: string): Promise<void> {
  const id = newId();
  const saved = await store.saveState(stateOf(id, value));
  assert.equal(saved.revision, 1, what);
  assert.deepStrictEqual((await store.loadState(id))?.data, value, `${what}: reads back`);
}

/**
 * Depth counts nested containers: `[]` and `{}` are depth 1, `[[0]]` is depth 2; scalars add
 * nothing. Size is the UTF-8 byte length of `JSON.stringify(data)`. A value exactly at a limit is
 * accepted, one level or one byte more is refused.
 */
export function limitTests(suite: Suite): void {
  suite.describe('limits', () => {
    suite.testScoped(
      `a store with maxDepth ${SMALL.maxDepth} accepts that depth and refuses one more`,
      async (scope) => {
        const store = await scope.open({ limits: SMALL });
        await assertAccepted(store, nested(SMALL.maxDepth), `${SMALL.maxDepth} nested arrays`);
        await assertAccepted(
          store,
          nested(SMALL.maxDepth, 'leaf', true),
          `${SMALL.maxDepth} nested arrays and objects`,
        );
        await assertAccepted(store, { a: [{ b: [] }], c: [{}, [1]], d: 'x' }, 'wide but not deeper');
        await assertRefused(store, nested(SMALL.maxDepth + 1), `${SMALL.maxDepth + 1} nested arrays`);
        await assertRefused(
          store,
          nested(SMALL.maxDepth + 1, {}, true),
          `${SMALL.maxDepth + 1} levels, mixed`,
        );
        await assertRefused(
          store,
          { ok: 1, deep: { a: { b: { c: {} } } } },
          'one deep branch among shallow ones',
        );
      },
    );

    suite.testScoped(
      `a store with maxBytes ${SMALL.maxBytes} counts serialized UTF-8 bytes`,
      async (scope) => {
        const store = await scope.open({ limits: SMALL });
        const limit = SMALL.maxBytes;
        await assertAccepted(store, stringOfJsonBytes(limit), `exactly ${limit} bytes`);
        await assertRefused(store, stringOfJsonBytes(limit + 1), `${limit + 1} bytes`);
        // 'é' is 2 bytes in UTF-8 but one UTF-16 unit: a limit on string length would accept this.
        await assertAccepted(store, stringOfJsonBytes(limit, 'é'), `exactly ${limit} bytes of 'é'`);
        await assertRefused(store, stringOfJsonBytes(limit + 2, 'é'), `${limit + 2} bytes of 'é'`);
        // NUL serializes as the 6 bytes \u0000: the limit is on the JSON text, not the string.
        await assertRefused(store, '\u0000'.repeat(171), '171 NUL characters (1028 bytes as JSON)');
        await assertRefused(store, { list: Array.from({ length: 300 }, (_, i) => i) }, 'a 300-number array');
      },
    );

    suite.test(
      `default limits: ${DEFAULT_DEPTH} nested levels are accepted, ${DEFAULT_DEPTH + 1} refused`,
      async (store) => {
        await assertAccepted(store, nested(DEFAULT_DEPTH), `${DEFAULT_DEPTH} nested arrays`);
        await assertAccepted(
          store,
          nested(DEFAULT_DEPTH, null, true),
          `${DEFAULT_DEPTH} nested arrays and objects`,
        );
        await assertRefused(store, nested(DEFAULT_DEPTH + 1), `${DEFAULT_DEPTH + 1} nested arrays`);
        await assertRefused(
          store,
          { wrapper: nested(DEFAULT_DEPTH) },
          `${DEFAULT_DEPTH} levels inside an object`,
        );
      },
    );

    suite.test('default limits: 10 MiB + 1 byte of data is refused', async (store) => {
      await assertRefused(store, stringOfJsonBytes(DEFAULT_BYTES + 1), '10 MiB + 1 byte');
    });

    suite.test('default limits: exactly 10 MiB of data is accepted [slow]', async (store) => {
      const id = newId();
      const value = stringOfJsonBytes(DEFAULT_BYTES);
      const saved = await store.saveState(stateOf(id, value));
      assert.equal(saved.revision, 1);
      const loaded = await store.loadState(id);
      assert.ok(loaded?.data === value, 'the 10 MiB string reads back exactly');
    });

    suite.testScoped('nonsensical limits are refused when the store is created', async (scope) => {
      for (const limits of [{ maxDepth: 0 }, { maxDepth: 1.5 }, { maxBytes: -1 }, { maxBytes: Number.NaN }]) {
        await rejectsWith(`limits ${JSON.stringify(limits)}`, ValidationError, 'VALIDATION', async () => {
          const store = await scope.open({ limits });
          await store.saveState(stateOf(newId(), 1));
        });
      }
    });
  });
}
