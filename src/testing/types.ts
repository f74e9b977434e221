import type { StateLimits } from '../core/limits.js';
import type { PluginStateStorage } from '../core/storage.js';
import type { PluginId } from '../core/types.js';

/** What the suite passes to a {@link StorageFactory}. */
export interface StorageFactoryOptions {
  /**
   * Limits the new store must enforce (pass them to the backend's `options.limits`). Empty for most
   * tests, which expect the defaults: depth 128, 10 MiB.
   */
  limits?: Partial<StateLimits>;
  /**
   * Replaced revisions per state the new store must keep (pass it to the backend's
   * `options.history`); undefined means the backend's default (10 for the built-in ones).
   */
  history?: number;
}

/**
 * Creates a fresh, empty store of the backend under test, each call its own (a new temp folder, a
 * new table or key prefix). The suite closes every store it creates.
 */
export type StorageFactory = (
  options: StorageFactoryOptions,
) => PluginStateStorage | Promise<PluginStateStorage>;

/** A function that registers a test; its body returns a promise. */
export type RegisterTest = (name: string, fn: () => Promise<void>) => unknown;

/** A lifecycle hook registrar such as node:test's `after` or vitest's `afterAll`. */
export type RegisterHook = (fn: () => Promise<void>) => unknown;

/**
 * The test runner's own functions, so the suite runs under any runner without importing one:
 * `{ describe, it, after }` from `node:test`, or `{ describe, it, afterAll }` from vitest or Jest.
 * Only `describe` and `it` are required; the hooks are accepted so that a runner's whole set of
 * functions can be passed as is. When `after` or `afterAll` is given, it closes any store a test
 * left open (for instance one cut short by a timeout).
 */
export interface TestRunner {
  describe: (name: string, fn: () => void) => unknown;
  it: RegisterTest;
  before?: RegisterHook;
  after?: RegisterHook;
  beforeAll?: RegisterHook;
  afterAll?: RegisterHook;
  beforeEach?: RegisterHook;
  afterEach?: RegisterHook;
}

/**
 * What the backend can and cannot do. A capability that is not declared is not tested, and the
 * report says so in a test of its own: nothing is skipped silently.
 */
export interface ConformanceCapabilities {
  /**
   * States outlive the instance that saved them (files, databases). Requires {@link reopen}. When
   * false (the default), the suite checks instead that every store from the factory starts empty.
   */
  persistent?: boolean;
  /**
   * Opens a new instance over the same place as `previous` (same folder, same database and
   * table). The suite closes `previous` first, except in the tests of {@link sharedInstances}.
   */
  reopen?: (
    previous: PluginStateStorage,
    options: StorageFactoryOptions,
  ) => PluginStateStorage | Promise<PluginStateStorage>;
  /**
   * Two instances open at once over the same place (two processes, two servers) share states, and
   * revisions and compare-and-set hold across them. Requires {@link persistent}.
   */
  sharedInstances?: boolean;
  /**
   * Damages the stored record of `pluginId` in place so that it no longer parses (truncate the file,
   * overwrite the row's bytes). With it, the suite checks that a corrupt record is a
   * `SerializationError`, is never deleted by the library, and does not make the store unusable.
   */
  corrupt?: (storage: PluginStateStorage, pluginId: PluginId) => void | Promise<void>;
  /**
   * What `listStates` does when one record is corrupt (checked only with {@link corrupt}):
   * `'skip'` (the default) leaves it out and lists the others, `'throw'` rejects with a
   * `SerializationError`.
   */
  listWithCorruptRecord?: 'skip' | 'throw';
  /**
   * The storage keeps the history of each state (`listRevisions`, `loadRevision`,
   * `restoreRevision`, `purgeState`) and honours `options.history`. Every built-in backend does.
   */
  history?: boolean;
}
