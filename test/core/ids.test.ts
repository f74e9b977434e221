import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizePluginId } from '../../src/core/ids.js';
import { isPluginId, PLUGIN_ID_NAMESPACE, pluginIdFromName, ValidationError } from '../../src/index.js';

describe('plugin ids', () => {
  it('accepts any case and returns the lower-case form', () => {
    assert.equal(
      normalizePluginId('1B4E28BA-2FA1-41D2-883F-0016D3CCA427', 'test'),
      '1b4e28ba-2fa1-41d2-883f-0016d3cca427',
    );
  });

  for (const bad of [
    '',
    '../x',
    'not-a-uuid',
    '1b4e28ba2fa141d2883f0016d3cca427',
    ' 1b4e28ba-2fa1-41d2-883f-0016d3cca427',
    '1b4e28ba-2fa1-41d2-883f-0016d3cca427/..',
    42,
    null,
    undefined,
  ]) {
    it(`refuses ${JSON.stringify(bad)} with a ValidationError naming the operation`, () => {
      assert.equal(isPluginId(bad), false);
      assert.throws(
        () => normalizePluginId(bad, 'loadState'),
        (error: unknown) => {
          assert.ok(error instanceof ValidationError);
          assert.equal(error.code, 'VALIDATION');
          assert.match(error.message, /^loadState: plugin id/);
          assert.match(error.message, /pluginIdFromName/);
          return true;
        },
      );
    });
  }

  it('derives name-based v5 UUIDs that are stable and distinct', () => {
    const a = pluginIdFromName('com.acme.git-helper');
    assert.equal(a, pluginIdFromName('com.acme.git-helper'));
    assert.notEqual(a, pluginIdFromName('com.acme.git-helper2'));
    assert.ok(isPluginId(a));
    assert.equal(a[14], '5', 'version nibble is 5');
    assert.match(a[19]!, /[89ab]/, 'RFC variant');
  });

  it('keeps the documented namespace, so ids never move', () => {
    // A change of namespace would silently orphan every state derived from a name.
    assert.equal(PLUGIN_ID_NAMESPACE, '6f1d3c2e-8b7a-5e4d-9c3b-2a1f0e9d8c7b');
    // Computed independently (SHA-1 of namespace bytes + name, RFC 9562 section 5.5).
    assert.equal(pluginIdFromName('com.acme.git-helper'), 'bb3a7eec-ea8a-5a39-9ca4-272e115b5580');
  });

  it('refuses an empty name', () => {
    assert.throws(() => pluginIdFromName(''), ValidationError);
    assert.throws(() => pluginIdFromName('   '), ValidationError);
  });
});
