import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type JsonValue,
  type Plugin,
  PluginStateManager,
  pluginIdFromName,
  type StateReport,
  ValidationError,
} from '../../src/index.js';

// Assembled at run time so the repository holds nothing a secret scanner would flag.
const awsKeyId = ['AK', 'IA', 'Z7Q3', 'V9XK', 'M2PL', 'R8TD'].join('');

function pluginHolding(data: JsonValue): Plugin {
  return { id: pluginIdFromName('test.secret-scanning'), getState: () => data, setState: () => {} };
}

describe('secret scanning in the managers', () => {
  it('warns by default: the save goes through, onReport hears path and kind, never the secret', async () => {
    const reports: StateReport[] = [];
    const manager = PluginStateManager.withMemoryStorage({ onReport: (report) => reports.push(report) });
    const plugin = pluginHolding({ cloud: { accessKeyId: awsKeyId } });
    await manager.saveState(plugin);
    assert.deepEqual((await manager.loadPluginState(plugin.id))?.data, { cloud: { accessKeyId: awsKeyId } });
    const scan = reports.find((report) => report.operation === 'scan');
    assert.ok(scan, 'a scan report');
    assert.equal(scan.code, 'SECRET');
    assert.match(scan.message, /data\.cloud\.accessKeyId/);
    assert.doesNotMatch(JSON.stringify(reports) + scan.message, new RegExp(awsKeyId));
  });

  it("'refuse' rejects the save with a ValidationError and stores nothing", async () => {
    const manager = PluginStateManager.withMemoryStorage({ secretScanning: 'refuse' });
    const plugin = pluginHolding({ token: awsKeyId });
    await assert.rejects(manager.saveState(plugin), (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.doesNotMatch(error.message, new RegExp(awsKeyId));
      return true;
    });
    assert.equal(await manager.loadPluginState(plugin.id), undefined);
  });

  it("'off' does not scan", async () => {
    const reports: StateReport[] = [];
    const manager = PluginStateManager.withMemoryStorage({
      secretScanning: 'off',
      onReport: (report) => reports.push(report),
    });
    await manager.saveState(pluginHolding({ token: awsKeyId }));
    assert.deepEqual(reports, []);
  });

  it('refuses an unknown policy when the manager is built', () => {
    assert.throws(
      () => PluginStateManager.withMemoryStorage({ secretScanning: 'loud' as never }),
      ValidationError,
    );
  });
});
