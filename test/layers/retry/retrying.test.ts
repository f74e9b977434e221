// retrying(): which failures are tried again, how often, within which deadline, what is reported,
// and that everything else rejects at once and unchanged. Real busy SQLite and a refused PostgreSQL
// connection are in retrying-real.test.ts.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  ConflictError,
  IntegrityError,
  isTransientError,
  MemoryStateStorage,
  PermissionError,
  type PluginState,
  PluginStateManager,
  type PluginStateStorage,
  pluginIdFromName,
  retrying,
  SerializationError,
  type StateReport,
  StorageError,
  ValidationError,
  VersionIncompatibilityError,
} from '../../../src/index.js';
import { describeStorageConformance } from '../../../src/testing/index.js';

const id = pluginIdFromName('retry');
const state = (data: string): PluginState => ({ pluginId: id, data, lastModified: new Date() });

/** A system call's error as node raises it. */
function errno(code: string, syscall = 'open'): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${syscall} failed`), { code, syscall, errno: -1 });
}

/** How the backends wrap a medium's failure. */
function storageError(cause: unknown): StorageError {
  return new StorageError(`saveState of plugin ${id} failed: ${(cause as Error).message}`, { cause });
}

/** A memory storage whose next operations fail with the queued errors, then work again. */
class FlakyStorage extends MemoryStateStorage {
  readonly failures: unknown[] = [];
  calls = 0;
  override async saveState(s: PluginState, options?: Parameters<MemoryStateStorage['saveState']>[1]) {
    this.calls++;
    const failure = this.failures.shift();
    if (failure !== undefined) throw failure;
    return super.saveState(s, options);
  }
  override async loadState(pluginId: string) {
    this.calls++;
    const failure = this.failures.shift();
    if (failure !== undefined) throw failure;
    return super.loadState(pluginId);
  }
}

describe('isTransientError', () => {
  const transient = [
    storageError(errno('EBUSY')),
    storageError(errno('EAGAIN', 'write')),
    storageError(errno('EMFILE')),
    storageError(errno('ENFILE')),
    storageError(Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' })),
    storageError(Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY_SNAPSHOT' })),
    storageError(errno('ECONNRESET', 'read')),
    storageError(errno('ECONNREFUSED', 'connect')),
    storageError(Object.assign(new Error('could not serialize access'), { code: '40001' })),
    storageError(Object.assign(new Error('deadlock detected'), { code: '40P01' })),
    storageError(Object.assign(new Error('connection failure'), { code: '08006' })),
    storageError(Object.assign(new Error('the database system is starting up'), { code: '57P03' })),
    storageError(new Error('Connection terminated unexpectedly')),
    storageError(new AggregateError([errno('ECONNREFUSED', 'connect')], 'connect failed')),
  ];
  const permanent = [
    new ValidationError('bad'),
    new ConflictError('conflict', { storedRevision: 2, expectedRevision: 1 }),
    new PermissionError('denied', { cause: errno('EACCES') }),
    new SerializationError('corrupt'),
    new IntegrityError('tampered'),
    new VersionIncompatibilityError('newer'),
    storageError(errno('ENOSPC', 'write')),
    storageError(errno('EIO', 'write')),
    // A failed fsync is never retried into a success, whatever its errno says.
    storageError(errno('EAGAIN', 'fsync')),
    storageError(errno('EBUSY', 'fdatasync')),
    storageError(Object.assign(new Error('syntax error'), { code: '42601' })),
    new Error('plain bug'),
  ];
  it('retries busy resources, dropped connections, serialization failures and deadlocks', () => {
    for (const error of transient) assert.equal(isTransientError(error), true, String(error.cause ?? error));
  });
  it('never retries validation, conflicts, permissions, corrupt data, full disks or fsync failures', () => {
    for (const error of permanent) assert.equal(isTransientError(error), false, String(error));
  });
  it('a cause cycle does not hang', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    assert.equal(isTransientError(a), false);
  });
});

describe('retrying(storage, policy)', () => {
  it('tries transient failures again until one succeeds, and reports each retry and the recovery', async () => {
    const flaky = new FlakyStorage();
    const reports: StateReport[] = [];
    const storage = retrying(flaky, { minDelayMs: 1, onReport: (r) => reports.push(r) });
    flaky.failures.push(storageError(errno('EBUSY')), storageError(errno('EMFILE')));
    const saved = await storage.saveState(state('kept'));
    assert.equal(saved.revision, 1);
    assert.equal(flaky.calls, 3);
    assert.deepEqual(
      reports.map(({ operation, pluginId, attempt, recovered, code }) => ({
        operation,
        pluginId,
        attempt,
        recovered,
        code,
      })),
      [
        { operation: 'saveState', pluginId: id, attempt: 1, recovered: false, code: 'STORAGE' },
        { operation: 'saveState', pluginId: id, attempt: 2, recovered: false, code: 'STORAGE' },
        { operation: 'saveState', pluginId: id, attempt: 3, recovered: true, code: undefined },
      ],
    );
    assert.match(reports[0]!.message, /attempt 1 of 4 .*EBUSY.*trying again/);
    assert.match(reports[2]!.message, /succeeded on attempt 3 after 2 transient failures/);
  });

  it('rejects a permanent failure at once with the same error, and reports nothing', async () => {
    for (const error of [
      new ValidationError('bad'),
      new ConflictError('c', { storedRevision: 1, expectedRevision: 0 }),
      storageError(errno('EIO', 'fsync')),
    ]) {
      const flaky = new FlakyStorage();
      const reports: StateReport[] = [];
      const storage = retrying(flaky, { minDelayMs: 1, onReport: (r) => reports.push(r) });
      flaky.failures.push(error);
      await assert.rejects(storage.saveState(state('x')), (thrown: unknown) => thrown === error);
      assert.equal(flaky.calls, 1, `${error.name}: one attempt`);
      assert.deepEqual(reports, []);
    }
  });

  it('gives up after `attempts` with the last error, and says so', async () => {
    const flaky = new FlakyStorage();
    const reports: StateReport[] = [];
    const storage = retrying(flaky, { attempts: 3, minDelayMs: 1, onReport: (r) => reports.push(r) });
    const last = storageError(errno('EAGAIN', 'write'));
    flaky.failures.push(
      storageError(errno('EBUSY')),
      storageError(errno('EBUSY')),
      last,
      storageError(errno('EBUSY')),
    );
    await assert.rejects(storage.loadState(id), (thrown: unknown) => thrown === last);
    assert.equal(flaky.calls, 3);
    const gaveUp = reports.at(-1)!;
    assert.equal(gaveUp.recovered, false);
    assert.equal(gaveUp.attempt, 3);
    assert.match(gaveUp.message, /loadState of plugin .* gave up after 3 attempts/);
  });

  it('waits between attempts with growing delays, and stops at the deadline', async () => {
    const flaky = new FlakyStorage();
    const storage = retrying(flaky, { attempts: 3, minDelayMs: 20, factor: 2, jitter: false });
    flaky.failures.push(storageError(errno('EBUSY')), storageError(errno('EBUSY')));
    const started = performance.now();
    await storage.saveState(state('late'));
    // Delays of 20 and 40 ms: a lower bound, which a slow machine can only exceed.
    assert.ok(performance.now() - started >= 59, `waited ${performance.now() - started} ms`);

    const stubborn = new FlakyStorage();
    const bounded = retrying(stubborn, { attempts: 100, minDelayMs: 30, jitter: false, deadlineMs: 100 });
    for (let i = 0; i < 100; i++) stubborn.failures.push(storageError(errno('EBUSY')));
    await assert.rejects(bounded.saveState(state('never')), StorageError);
    assert.ok(stubborn.calls < 10, `the deadline stopped it after ${stubborn.calls} attempts`);
  });

  it('an aborted signal stops retrying', async () => {
    const flaky = new FlakyStorage();
    const controller = new AbortController();
    const storage = retrying(flaky, { attempts: 50, minDelayMs: 50, signal: controller.signal });
    for (let i = 0; i < 50; i++) flaky.failures.push(storageError(errno('EBUSY')));
    const saving = storage.saveState(state('x'));
    setTimeout(() => controller.abort(new Error('host is shutting down')), 20);
    await assert.rejects(saving, /host is shutting down/);
    assert.ok(flaky.calls < 5);
  });

  it('keeps the history methods of the wrapped storage, and only those', async () => {
    const storage = retrying(new MemoryStateStorage());
    await storage.saveState(state('one'));
    await storage.saveState(state('two'));
    assert.deepEqual(
      (await storage.listRevisions!(id)).map((r) => r.revision),
      [2, 1],
    );
    const bare: PluginStateStorage = {
      saveState: async (s) => s,
      loadState: async () => undefined,
      deleteState: async () => {},
      listStates: async () => [],
    };
    assert.equal(retrying(bare).listRevisions, undefined);
  });

  it('refuses a bad policy', () => {
    for (const policy of [
      { attempts: 0 },
      { attempts: 1.5 },
      { minDelayMs: -1 },
      { factor: 0.5 },
      { deadlineMs: Number.NaN },
    ]) {
      assert.throws(
        () => retrying(new MemoryStateStorage(), policy),
        ValidationError,
        JSON.stringify(policy),
      );
    }
  });
});

describe('managers retry by default', () => {
  it('a transient failure under a manager is retried and reported; retry: false turns it off', async () => {
    const flaky = new FlakyStorage();
    const reports: StateReport[] = [];
    const manager = new PluginStateManager(flaky, { onReport: (r) => reports.push(r) });
    const plugin = { id, getState: () => ({ n: 1 }), setState: () => {} };
    flaky.failures.push(storageError(errno('EBUSY')));
    await manager.saveState(plugin);
    assert.ok(reports.some((r) => r.recovered === true && r.operation === 'saveState'));

    const strict = new PluginStateManager(flaky, { retry: false });
    flaky.failures.push(storageError(errno('EBUSY')));
    await assert.rejects(strict.saveState(plugin), StorageError);
  });
});

describeStorageConformance(
  'retrying(MemoryStateStorage)',
  (options) => retrying(new MemoryStateStorage(options)),
  { describe, it, after },
  { persistent: false, history: true },
);
