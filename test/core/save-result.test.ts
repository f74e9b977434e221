import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryStateStorage, type PluginState, pluginIdFromName } from '../../src/index.js';

const pluginId = pluginIdFromName('test.save-result');

describe('the record a save resolves with', () => {
  for (const [label, size] of [
    ['small (copied at once)', 10],
    ['large (copied on first access)', 200_000],
  ] as const) {
    it(`${label}: holds its own copy of the data with JSON semantics`, async () => {
      const storage = new MemoryStateStorage();
      const input = { text: 'x'.repeat(size), zero: -0, nested: { list: [1, 2, 3] } };
      const saved: PluginState = await storage.saveState({ pluginId, data: input, lastModified: new Date() });
      const data = saved.data as typeof input;
      assert.notEqual(data, input, 'not the caller object');
      assert.ok(Object.is(data.zero, 0), '-0 reads as 0, as a load would');
      assert.equal(data.text.length, size);
      // The copy is stable, writable and spreads like a plain property.
      assert.equal(saved.data, data);
      data.nested.list.push(4);
      const spread = { ...saved };
      assert.deepEqual((spread.data as typeof input).nested.list, [1, 2, 3, 4]);
      saved.data = { replaced: true };
      assert.deepEqual(saved.data, { replaced: true });
      assert.deepEqual(JSON.parse(JSON.stringify(saved)).data, { replaced: true });
      // Nothing stored changed.
      const loaded = await storage.loadState(pluginId);
      assert.deepEqual((loaded!.data as typeof input).nested.list, [1, 2, 3]);
    });
  }
});
