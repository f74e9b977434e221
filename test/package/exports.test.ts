import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';

// `npm test` builds before testing, so the package's own name resolves to dist/ through `exports`.
describe('the published package', () => {
  it('exports the DESIGN.md contract from its root', async () => {
    const root = await import('plugin-state');
    for (const name of [
      'PluginStateManager',
      'PluginManager',
      'MemoryStateStorage',
      'FileSystemStateStorage',
      'pluginIdFromName',
      'PluginStateError',
      'StorageError',
      'SerializationError',
      'ValidationError',
      'PermissionError',
      'VersionIncompatibilityError',
      'ConflictError',
      'IntegrityError',
      'BatchError',
    ]) {
      assert.equal(typeof (root as Record<string, unknown>)[name], 'function', `${name} is exported`);
    }
    const codes = [
      'STORAGE',
      'SERIALIZATION',
      'VALIDATION',
      'PERMISSION',
      'VERSION_INCOMPATIBLE',
      'INTEGRITY',
    ];
    const classes = [
      root.StorageError,
      root.SerializationError,
      root.ValidationError,
      root.PermissionError,
      root.VersionIncompatibilityError,
      root.IntegrityError,
    ];
    classes.forEach((ErrorClass, i) => {
      const error = new ErrorClass('message');
      assert.ok(error instanceof root.PluginStateError);
      assert.equal(error.code, codes[i]);
      assert.equal(error.name, ErrorClass.name);
    });
  });

  it('exports the database backends from their own subpaths, not from the root', async () => {
    const root = (await import('plugin-state')) as Record<string, unknown>;
    assert.equal(typeof root.openStorage, 'function');
    assert.equal(root.SqliteStateStorage, undefined);
    assert.equal(root.PostgresStateStorage, undefined);
    const sqlite = await import('plugin-state/sqlite');
    assert.equal(typeof sqlite.SqliteStateStorage, 'function');
    const postgres = await import('plugin-state/postgres');
    assert.equal(typeof postgres.PostgresStateStorage, 'function');
  });

  it('exports the conformance suite as plugin-state/testing', async () => {
    const testing = await import('plugin-state/testing');
    assert.equal(typeof testing.describeStorageConformance, 'function');
  });

  it('ships type declarations beside the code', () => {
    assert.ok(existsSync(new URL('../../dist/index.d.ts', import.meta.url)));
    assert.ok(existsSync(new URL('../../dist/testing/index.d.ts', import.meta.url)));
  });
});
