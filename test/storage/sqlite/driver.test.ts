import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../../helpers/temp-dir.js';
import { child } from './helpers.js';

interface Probe {
  afterRoot: { resolved: boolean; required: boolean };
  afterImport: { resolved: boolean; required: boolean };
  afterOpen: { resolved: boolean; required: boolean };
  openError?: { name: string; code: string; message: string };
}

/**
 * Each probe runs in a fresh process whose module loader reports (and, for "missing", refuses)
 * every resolution of better-sqlite3, and which also checks the CommonJS module cache.
 */
async function probe(
  t: Parameters<typeof tempDir>[0],
  mode: 'observe' | 'missing',
  db: string,
): Promise<Probe> {
  const worker = child(t, ['probe-import', mode, db]);
  const result = await worker.nextJson<Probe>();
  await worker.finish();
  return result;
}

describe('SqliteStateStorage driver loading', () => {
  it('importing the package root or plugin-state/sqlite does not load better-sqlite3; opening a store does', async (t) => {
    const db = join(tempDir(t), 'probe.db');
    const result = await probe(t, 'observe', db);
    assert.deepEqual(
      result.afterRoot,
      { resolved: false, required: false },
      'after importing the package root',
    );
    assert.deepEqual(
      result.afterImport,
      { resolved: false, required: false },
      'after importing plugin-state/sqlite',
    );
    assert.deepEqual(
      result.afterOpen,
      { resolved: true, required: true },
      'the probe sees the driver once a store opens',
    );
    assert.equal(result.openError, undefined);
    assert.ok(existsSync(db));
  });

  it('opening a store without better-sqlite3 installed is a StorageError saying what to install', async (t) => {
    const db = join(tempDir(t), 'never.db');
    const result = await probe(t, 'missing', db);
    assert.deepEqual(result.afterImport, { resolved: false, required: false });
    assert.equal(result.afterOpen.resolved, true, 'the store did try to load the driver');
    assert.equal(result.openError?.name, 'StorageError');
    assert.equal(result.openError?.code, 'STORAGE');
    assert.match(
      result.openError!.message,
      /install better-sqlite3@12 \(npm install better-sqlite3@12\.11\.1\)/,
    );
    assert.match(result.openError!.message, /is not installed/);
    assert.equal(existsSync(db), false, 'nothing was created on disk without a driver');
  });
});
