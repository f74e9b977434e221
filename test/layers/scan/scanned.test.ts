// The scanning layer: the three policies, reports and errors that never hold the secret, and the
// conformance suite passing through scanned(memory, { policy: 'refuse' }).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { inspect } from 'node:util';
import {
  type JsonValue,
  MemoryStateStorage,
  type PluginStateStorage,
  type SecretScanOptions,
  type StateReport,
  scanned,
  ValidationError,
} from '../../../src/index.js';
import { describeStorageConformance } from '../../../src/testing/index.js';
import { filler, SAMPLES, secretCore } from './samples.js';

const state = (pluginId: string, data: JsonValue) => ({ pluginId, data, lastModified: new Date() });

function layer(options: SecretScanOptions = {}) {
  const reports: StateReport[] = [];
  const inner = new MemoryStateStorage();
  const storage = scanned(inner, { ...options, onReport: (report) => reports.push(report) });
  return { inner, storage, reports };
}

/** Every text a host could log or show from a report or an error. */
function everythingShown(value: unknown): string {
  const error = value as ValidationError | undefined;
  return [
    inspect(value, { depth: 10 }),
    JSON.stringify(value),
    error?.message ?? '',
    error?.stack ?? '',
    JSON.stringify(error?.issues ?? []),
  ].join('\n');
}

describe('scanned: policies', () => {
  const token = `ghp_${filler(36)}`;
  const data: JsonValue = { user: 'ada', auth: { github: token }, cards: [null, '4111 1111 1111 1111'] };

  it("'warn' (the default) saves the state and reports the paths and kinds, not the secrets", async () => {
    const { storage, reports } = layer();
    const id = randomUUID();
    const saved = await storage.saveState(state(id, data));
    assert.equal(saved.revision, 1);
    assert.deepEqual((await storage.loadState(id))?.data, data, 'stored as given');
    assert.equal(reports.length, 1);
    const [report] = reports;
    assert.equal(report?.operation, 'scan');
    assert.equal(report?.code, 'SECRET');
    assert.equal(report?.pluginId, id);
    assert.equal(report?.recovered, true);
    assert.match(report!.message, /data\.auth\.github \(github-token\), data\.cards\[1\] \(credit-card\)/);
    assert.match(report!.message, /saved anyway/);
    assert.ok(report?.error instanceof ValidationError);
    assert.deepEqual(report.error.issues, [
      { path: 'data.auth.github', message: 'github-token' },
      { path: 'data.cards[1]', message: 'credit-card' },
    ]);
    const shown = everythingShown(report);
    assert.ok(!shown.includes(secretCore(token)) && !shown.includes('4111 1111'), shown);
  });

  it("'refuse' stores nothing and rejects with a ValidationError listing paths and kinds", async () => {
    const { storage, reports } = layer({ policy: 'refuse' });
    const id = randomUUID();
    await storage.saveState(state(id, { before: true }));
    const error = await storage.saveState(state(id.toUpperCase(), data)).then(
      () => assert.fail('the save should have been refused'),
      (thrown: unknown) => thrown,
    );
    assert.ok(error instanceof ValidationError, String(error));
    assert.equal(error.code, 'VALIDATION');
    assert.equal(error.pluginId, id, 'the id in its canonical form');
    assert.equal(error.operation, 'saveState');
    assert.deepEqual(
      error.issues.map((issue) => [issue.path, issue.message]),
      [
        ['data.auth.github', 'github-token'],
        ['data.cards[1]', 'credit-card'],
      ],
    );
    assert.match(error.message, /refused.*data\.auth\.github \(github-token\).*Nothing was stored\./);
    const stored = await storage.loadState(id);
    assert.deepEqual([stored?.revision, stored?.data], [1, { before: true }], 'the previous state is kept');
    assert.equal(reports.length, 1, 'the refusal is reported too');
    assert.equal(reports[0]?.recovered, false);
    assert.equal(reports[0]?.error, error);
    // A compare-and-set save is refused the same way, before the storage sees it.
    await assert.rejects(storage.saveState(state(id, data), { expectedRevision: 1 }), ValidationError);
    assert.equal((await storage.loadState(id))?.revision, 1);
  });

  it("'off' neither scans nor reports", async () => {
    const { storage, reports } = layer({ policy: 'off' });
    const id = randomUUID();
    await storage.saveState(state(id, data));
    assert.deepEqual((await storage.loadState(id))?.data, data);
    assert.deepEqual(reports, []);
  });

  it('refuses an unknown policy when the layer is made', () => {
    assert.throws(
      () => scanned(new MemoryStateStorage(), { policy: 'strict' as never }),
      (error) => error instanceof ValidationError && /'off', 'warn', 'refuse'/.test(error.message),
    );
  });

  it('saves clean data without a report under every policy', async () => {
    for (const policy of ['off', 'warn', 'refuse'] as const) {
      const { storage, reports } = layer({ policy });
      const saved = await storage.saveState(
        state(randomUUID(), { theme: 'dark', when: new Date(0).toISOString() }),
      );
      assert.equal(saved.revision, 1);
      assert.deepEqual(reports, []);
    }
  });

  it('lets known false positives through with allow, and still refuses the rest', async () => {
    const seen: string[] = [];
    const { storage } = layer({
      policy: 'refuse',
      allow: (finding, pluginId) => {
        seen.push(`${pluginId} ${finding.path} ${finding.kind}`);
        return finding.kind === 'credit-card';
      },
    });
    const id = randomUUID();
    await storage.saveState(state(id, { testCard: '4111 1111 1111 1111' }));
    assert.deepEqual(seen, [`${id} data.testCard credit-card`]);
    await assert.rejects(storage.saveState(state(id, data)), (error) => {
      assert.ok(error instanceof ValidationError);
      assert.deepEqual(
        error.issues.map((issue) => issue.path),
        ['data.auth.github'],
      );
      return true;
    });
  });

  it('leaves bad ids and values that are not JSON to the wrapped storage', async () => {
    const { storage, reports } = layer({ policy: 'refuse' });
    await assert.rejects(storage.saveState(state('not-a-uuid', { token })), (error) => {
      assert.ok(error instanceof ValidationError);
      assert.match(error.message, /is not a UUID/);
      return true;
    });
    await assert.rejects(storage.saveState(null as never), ValidationError);
    assert.deepEqual(reports, []);
  });

  it('passes load, list, delete, open and close straight through', async () => {
    const calls: string[] = [];
    const inner = new MemoryStateStorage();
    const record = <T>(name: string, result: T): T => {
      calls.push(name);
      return result;
    };
    const spy: PluginStateStorage = {
      saveState: (...args) => record('save', inner.saveState(...args)),
      loadState: (id) => record('load', inner.loadState(id)),
      deleteState: (id) => record('delete', inner.deleteState(id)),
      listStates: () => record('list', inner.listStates()),
      open: () => record('open', inner.open()),
      close: () => record('close', inner.close()),
    };
    const storage = scanned(spy);
    const id = randomUUID();
    await storage.open?.();
    await storage.saveState(state(id, 1));
    await storage.loadState(id);
    await storage.listStates();
    await storage.deleteState(id);
    await storage.close?.();
    assert.deepEqual(calls, ['open', 'save', 'load', 'list', 'delete', 'close']);
    // A storage without open/close: the layer's own resolve.
    const bare = scanned({ ...spy, open: undefined, close: undefined });
    await bare.open?.();
    await bare.close?.();
  });
});

describe('scanned: history', () => {
  const token = `ghp_${filler(36)}`;

  it('forwards the history methods when the wrapped storage has them, and only then', async () => {
    const { storage } = layer({ policy: 'refuse' });
    for (const method of ['listRevisions', 'loadRevision', 'restoreRevision', 'purgeState'] as const) {
      assert.equal(typeof storage[method], 'function', method);
    }
    const inner = new MemoryStateStorage();
    const bare = scanned({
      saveState: (state, options) => inner.saveState(state, options),
      loadState: (id) => inner.loadState(id),
      deleteState: (id) => inner.deleteState(id),
      listStates: () => inner.listStates(),
    });
    for (const method of ['listRevisions', 'loadRevision', 'restoreRevision', 'purgeState'] as const) {
      assert.equal(method in bare, false, `no ${method} over a storage without history`);
    }
  });

  it('lists, loads, restores and purges through the layer, passing the save options on', async () => {
    const { storage, reports } = layer({ policy: 'refuse' });
    const id = randomUUID();
    await storage.saveState({ ...state(id, { n: 1 }), version: 1 });
    await storage.saveState(
      { ...state(id, { n: 2 }), version: 3 },
      { expectedRevision: 1, keepReplaced: true },
    );
    await assert.rejects(
      storage.saveState(state(id, { n: 3 }), { maxStoredVersion: 2 }),
      (error: unknown) => (error as { code?: string }).code === 'VERSION_INCOMPATIBLE',
    );
    assert.deepEqual(
      (await storage.listRevisions!(id)).map((info) => [info.revision, info.current]),
      [
        [2, true],
        [1, false],
      ],
    );
    assert.deepEqual((await storage.loadRevision!(id, 1))?.data, { n: 1 });
    const restored = await storage.restoreRevision!(id, 1, { expectedRevision: 2 });
    assert.deepEqual([restored.revision, restored.data, restored.version], [3, { n: 1 }, 1]);
    await storage.purgeState!(id);
    assert.deepEqual(await storage.listRevisions!(id), []);
    assert.deepEqual(reports, []);
  });

  it('a restore is not scanned: it puts back data that is already stored', async () => {
    // Saved under 'warn' (reported then), restored later through a layer that would refuse it.
    const inner = new MemoryStateStorage();
    const warned: StateReport[] = [];
    const id = randomUUID();
    await scanned(inner, { onReport: (report) => warned.push(report) }).saveState(state(id, { token }));
    assert.equal(warned.length, 1, 'the secret was reported when it was saved');
    await inner.saveState(state(id, { token: null }));
    const reports: StateReport[] = [];
    const strict = scanned(inner, { policy: 'refuse', onReport: (report) => reports.push(report) });
    await assert.rejects(strict.saveState(state(id, { token })), ValidationError, 'a save of it is refused');
    const restored = await strict.restoreRevision!(id, 1);
    assert.deepEqual(restored.data, { token });
    assert.equal(reports.length, 1, 'only the refused save was reported');
  });
});

describe('scanned: no secret in any report or error', () => {
  for (const [kind, secret] of SAMPLES) {
    it(`${kind}: ${secret.slice(0, 12).replaceAll('\n', ' ')}… is named by path and kind only`, async () => {
      const data: JsonValue = { a: [{ b: secret }], [secret.slice(0, 200)]: 1 };
      for (const policy of ['warn', 'refuse'] as const) {
        const { storage, reports } = layer({ policy });
        const outcome = await storage.saveState(state(randomUUID(), data)).then(
          () => undefined,
          (error: unknown) => error,
        );
        if (policy === 'refuse') assert.ok(outcome instanceof ValidationError, String(outcome));
        assert.equal(reports.length, 1);
        const shown = everythingShown(outcome) + everythingShown(reports);
        assert.ok(shown.includes(`data.a[0].b (${kind})`), shown);
        assert.ok(shown.includes('[<redacted key 1>] (a key)'), shown);
        for (const part of [secret, secretCore(secret)]) assert.ok(!shown.includes(part), `${part} shown`);
      }
    });
  }
});

// Every test of the conformance suite saves through the layer with the strictest policy: the suite's
// data must hold nothing secret-looking, and the layer must change nothing else.
const conformanceReports: StateReport[] = [];
describeStorageConformance(
  "scanned(MemoryStateStorage, { policy: 'refuse' })",
  ({ limits, history }) =>
    scanned(new MemoryStateStorage({ limits, history }), {
      policy: 'refuse',
      onReport: (report) => conformanceReports.push(report),
    }),
  { describe, it, after },
  { persistent: false, history: true },
);

describe('scanned: the conformance suite’s data', () => {
  it('held no secret-looking value (no scan report during the suite)', () => {
    assert.deepEqual(
      conformanceReports.map((report) => report.message),
      [],
    );
  });
});
