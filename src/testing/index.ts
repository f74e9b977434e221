// The conformance suite, exported as `plugin-state/testing`. Only exports and the entry point live here.

import { badIdTests } from './bad-ids.js';
import { closeTests } from './close.js';
import { concurrencyTests } from './concurrency.js';
import { copyTests } from './copies.js';
import { edgeJsonTests } from './edge-json.js';
import { Suite } from './harness.js';
import { historyTests } from './history.js';
import { limitTests } from './limits.js';
import { corruptTests, persistenceTests } from './persistence.js';
import { refusedValueTests } from './refused-values.js';
import { revisionTests } from './revisions.js';
import { roundTripTests } from './round-trip.js';
import type { ConformanceCapabilities, StorageFactory, TestRunner } from './types.js';

export type {
  ConformanceCapabilities,
  RegisterHook,
  RegisterTest,
  StorageFactory,
  StorageFactoryOptions,
  TestRunner,
} from './types.js';

/**
 * Registers the conformance suite of `PluginStateStorage` with your test runner: passing it is
 * what makes a storage a backend (DESIGN.md, "Semantics every backend shares"). It covers round
 * trip, missing ids, delete idempotence, list, revisions and compare-and-set, copies, 200
 * concurrent saves, unicode and edge JSON, the limits (default and configured), bad ids, refused
 * values, close, `maxStoredVersion`, and — as declared in `capabilities` — persistence across
 * instances, corrupt records and history (revisions, restore, purge). What a backend cannot do is declared, and reported as such, never skipped silently.
 *
 * Each test creates its own stores through `factory` and closes them, pass or fail. The whole
 * suite takes a few seconds on the memory backend; the one test that moves 10 MiB is tagged
 * `[slow]` in its name, so a runner's name filter can select or leave it out.
 *
 * @param name Names the top-level `describe` block, e.g. the backend's class name.
 * @param factory Creates a fresh, empty store, honouring `options.limits`.
 * @param runner The runner's `describe` and `it` (and optionally `after`/`afterAll`).
 * @param capabilities What the backend declares it can do beyond the shared semantics.
 *
 * @example
 * // test/my-storage.test.ts, with node:test (vitest and Jest: import from 'vitest' / '@jest/globals',
 * // and pass `afterAll` instead of `after`).
 * import { mkdtempSync } from 'node:fs';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * import { after, describe, it } from 'node:test';
 * import type { PluginStateStorage } from 'plugin-state';
 * import { describeStorageConformance } from 'plugin-state/testing';
 * import { MyStateStorage } from '../src/my-storage.js';
 *
 * const places = new WeakMap<PluginStateStorage, string>();
 * describeStorageConformance(
 *   'MyStateStorage',
 *   (options) => {
 *     const dir = mkdtempSync(join(tmpdir(), 'my-storage-'));
 *     const storage = new MyStateStorage(dir, options); // { limits, history }
 *     places.set(storage, dir);
 *     return storage;
 *   },
 *   { describe, it, after },
 *   {
 *     persistent: true,
 *     reopen: (previous, options) => {
 *       const storage = new MyStateStorage(places.get(previous)!, options);
 *       places.set(storage, places.get(previous)!);
 *       return storage;
 *     },
 *     sharedInstances: true,
 *   },
 * );
 */
export function describeStorageConformance(
  name: string,
  factory: StorageFactory,
  runner: TestRunner,
  capabilities: ConformanceCapabilities = {},
): void {
  if (typeof runner?.describe !== 'function' || typeof runner.it !== 'function') {
    throw new TypeError('describeStorageConformance: runner must provide describe() and it()');
  }
  if (capabilities.persistent && typeof capabilities.reopen !== 'function') {
    throw new TypeError(
      'describeStorageConformance: persistent: true needs a reopen(previous, options) hook',
    );
  }
  if (capabilities.sharedInstances && !capabilities.persistent) {
    throw new TypeError('describeStorageConformance: sharedInstances: true needs persistent: true');
  }
  const suite = new Suite(factory, capabilities, runner);
  runner.describe(`${name} conformance`, () => {
    const after = runner.after ?? runner.afterAll;
    // A safety net: every test closes its own stores, but one cut short by a timeout cannot.
    after?.(async () => {
      await Promise.allSettled([...suite.live].map((store) => suite.release(store)));
    });
    roundTripTests(suite);
    revisionTests(suite);
    copyTests(suite);
    concurrencyTests(suite);
    edgeJsonTests(suite);
    limitTests(suite);
    badIdTests(suite);
    refusedValueTests(suite);
    closeTests(suite);
    persistenceTests(suite);
    corruptTests(suite);
    historyTests(suite);
  });
}
