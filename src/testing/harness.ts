import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import type { PluginStateError } from '../core/errors.js';
import type { PluginStateStorage } from '../core/storage.js';
import type { JsonValue, PluginId, PluginState } from '../core/types.js';
import type { ConformanceCapabilities, StorageFactory, StorageFactoryOptions, TestRunner } from './types.js';

/** The stores one test opened; all of them are closed when the test ends, pass or fail. */
export class Scope {
  private readonly stores: PluginStateStorage[] = [];

  constructor(private readonly suite: Suite) {}

  /** A fresh, empty store from the factory. */
  async open(options: StorageFactoryOptions = {}): Promise<PluginStateStorage> {
    return this.track(await this.suite.factory(options));
  }

  /** A new instance over the same place as `previous` (persistent backends only). */
  async reopen(
    previous: PluginStateStorage,
    options: StorageFactoryOptions = {},
  ): Promise<PluginStateStorage> {
    const reopen = this.suite.capabilities.reopen;
    assert.ok(reopen, 'capabilities.reopen is required by this test');
    return this.track(await reopen(previous, options));
  }

  async closeAll(): Promise<void> {
    const stores = this.stores.splice(0);
    const results = await Promise.allSettled(stores.map((store) => this.suite.release(store)));
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private track(store: PluginStateStorage): PluginStateStorage {
    assert.ok(store && typeof store.saveState === 'function', 'the factory must return a storage');
    this.stores.push(store);
    this.suite.live.add(store);
    return store;
  }
}

/** The suite's shared state: the factory, the declared capabilities and the runner. */
export class Suite {
  /** Stores opened and not yet closed, closed by the runner's `after` hook if a test left any. */
  readonly live = new Set<PluginStateStorage>();

  constructor(
    readonly factory: StorageFactory,
    readonly capabilities: ConformanceCapabilities,
    private readonly runner: TestRunner,
  ) {}

  describe(name: string, body: () => void): void {
    this.runner.describe(name, body);
  }

  /** A test that gets a fresh store (and a scope to open more); everything is closed at its end. */
  test(name: string, body: (store: PluginStateStorage, scope: Scope) => Promise<void>): void {
    this.runner.it(name, () => this.scoped(async (scope) => body(await scope.open(), scope)));
  }

  /** A test that opens its own stores. */
  testScoped(name: string, body: (scope: Scope) => Promise<void>): void {
    this.runner.it(name, () => this.scoped(body));
  }

  async scoped(body: (scope: Scope) => Promise<void>): Promise<void> {
    const scope = new Scope(this);
    try {
      await body(scope);
    } catch (error) {
      // The test's own failure matters more than a failure to close after it.
      await scope.closeAll().catch(() => undefined);
      throw error;
    }
    await scope.closeAll();
  }

  async release(store: PluginStateStorage): Promise<void> {
    this.live.delete(store);
    await store.close?.();
  }
}

/** A new random plugin id. */
export function newId(): PluginId {
  return randomUUID();
}

/** A fixed time with milliseconds, to check that they survive. */
export const SOME_TIME = new Date(Date.UTC(2024, 1, 29, 12, 34, 56, 789));

export function stateOf(pluginId: PluginId, data: JsonValue, extra: Partial<PluginState> = {}): PluginState {
  return { pluginId, data, lastModified: new Date(SOME_TIME.getTime()), ...extra };
}

type ErrorClass<E> = abstract new (...args: never[]) => E;

/**
 * Runs `operation`, which must return a promise that rejects (not throw synchronously, not resolve)
 * with an instance of `type` carrying `code`; returns that error for further checks.
 */
export async function rejectsWith<E extends PluginStateError>(
  what: string,
  type: ErrorClass<E>,
  code: string,
  operation: () => Promise<unknown>,
): Promise<E> {
  let promise: Promise<unknown>;
  try {
    promise = operation();
  } catch (error) {
    assert.fail(`${what}: threw synchronously instead of returning a rejected promise: ${show(error)}`);
  }
  let outcome: { value: unknown } | { error: unknown };
  try {
    outcome = { value: await promise };
  } catch (error) {
    outcome = { error };
  }
  if ('value' in outcome) {
    assert.fail(`${what}: expected a ${type.name} (${code}), but it resolved with ${show(outcome.value)}`);
  }
  const error = outcome.error;
  assert.ok(error instanceof type, `${what}: expected a ${type.name}, got ${show(error)}`);
  assert.equal(error.code, code, `${what}: error code`);
  assert.equal(typeof error.message, 'string');
  return error;
}

/** A short, bounded rendering of a value for failure messages. */
export function show(value: unknown): string {
  const text = inspect(value, { depth: 3, maxArrayLength: 5, maxStringLength: 80, breakLength: Infinity });
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/** Sorts states by id, so lists can be compared whatever order a backend returns. */
export function byId(states: PluginState[]): PluginState[] {
  return [...states].sort((a, b) => (a.pluginId < b.pluginId ? -1 : a.pluginId > b.pluginId ? 1 : 0));
}

/** Checks the shape every returned record has: lower-case id, Date, whole version and revision. */
export function assertRecord(record: PluginState | undefined, what: string): asserts record is PluginState {
  assert.ok(record && typeof record === 'object', `${what}: expected a record, got ${show(record)}`);
  assert.equal(typeof record.pluginId, 'string', `${what}: pluginId`);
  assert.equal(record.pluginId, record.pluginId.toLowerCase(), `${what}: pluginId is lower-case`);
  assert.ok(record.lastModified instanceof Date, `${what}: lastModified is a Date`);
  assert.ok(!Number.isNaN(record.lastModified.getTime()), `${what}: lastModified is a valid Date`);
  assert.ok(
    Number.isSafeInteger(record.version) && record.version! >= 1,
    `${what}: version is a whole number`,
  );
  assert.ok(Number.isSafeInteger(record.revision) && record.revision! >= 1, `${what}: revision >= 1`);
}

/** Nests `levels` containers (alternating arrays and objects when `mixed`) around `leaf`. */
export function nested(levels: number, leaf: JsonValue = 0, mixed = false): JsonValue {
  let value = leaf;
  for (let level = 0; level < levels; level++) {
    value = mixed && level % 2 === 1 ? { k: value } : [value];
  }
  return value;
}
