import assert from 'node:assert/strict';
import type { PluginStateStorage } from '../core/storage.js';
import type { JsonValue } from '../core/types.js';
import { newId, type Suite, stateOf } from './harness.js';

const MiB = 1024 * 1024;

interface EdgeCase {
  name: string;
  value: () => JsonValue;
  /** What must read back, when it differs from `value` (plain objects for null-prototype ones). */
  expected?: () => JsonValue;
}

/** Values that are valid JSON and must come back exactly; each is its own test. */
const CASES: EdgeCase[] = [
  { name: 'an empty object', value: () => ({}) },
  { name: 'an empty array', value: () => [] },
  { name: 'null', value: () => null },
  { name: 'true', value: () => true },
  { name: 'false', value: () => false },
  { name: 'zero', value: () => 0 },
  { name: 'an empty string', value: () => '' },
  {
    name: 'empty containers nested',
    value: () => ({ a: {}, b: [], c: [[], {}, [{}]], d: { e: { f: [] } } }),
  },
  {
    name: 'the largest and smallest safe integers (2^53-1, -(2^53-1))',
    value: () => [
      Number.MAX_SAFE_INTEGER,
      -Number.MAX_SAFE_INTEGER,
      { max: 2 ** 53 - 1, min: -(2 ** 53 - 1) },
    ],
  },
  {
    name: 'extreme doubles (1e308, MAX_VALUE, 5e-324, 0.1, -1.5e-7, 2^64)',
    value: () => [1e308, Number.MAX_VALUE, 5e-324, -5e-324, 0.1, 0.30000000000000004, -1.5e-7, 2 ** 64],
  },
  {
    name: 'control characters, NUL included, in values and keys',
    value: () => ({
      all: `${Array.from({ length: 32 }, (_, code) => String.fromCharCode(code)).join('')}\u007f`,
      nul: 'a\u0000b\u0000',
      'key\u0000with\u0001controls': '\n\r\t\b\f"\\/',
      separators: '\u2028\u2029',
    }),
  },
  {
    name: 'emoji and astral characters',
    value: () => ({
      emoji: '😀 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈',
      astral: '𝕏 𠜎 𓀀',
      '😀 key': ['é', 'ß', 'ﬁ', 'Ω', '中文', 'العربية', 'עברית'],
    }),
  },
  {
    name: 'strings that are not normalized (NFC and NFD kept apart), BOM and replacement char',
    value: () => ({
      é: 'nfc',
      'e\u0301': 'nfd',
      bom: '\ufeffstarts with a BOM',
      fffd: '\ufffd',
      zwj: 'a\u200db',
    }),
  },
  {
    name: 'lone surrogates (JSON.stringify escapes them, so they round-trip)',
    value: () => {
      // Node >= 12 serializes lone surrogates as \uXXXX escapes, which parse back exactly.
      assert.equal(
        JSON.parse(JSON.stringify('\ud800')),
        '\ud800',
        'precondition: this runtime round-trips them',
      );
      return {
        high: '\ud800',
        low: '\udfff',
        inside: 'a\ud83dz',
        reversed: '\ude00\ud83d',
        key: { '\udc00': 1 },
      };
    },
  },
  { name: 'a top-level string with a BOM', value: () => '\ufeff{}' },
  {
    name: 'keys that are empty, numeric-looking or special words',
    value: () => ({
      '': 'empty key',
      ' ': 'space',
      '0': 0,
      '01': 1,
      '-1': -1,
      '1.5': 1.5,
      length: 3,
      'a.b': 1,
    }),
  },
  {
    name: 'keys named like Object.prototype members',
    value: () => ({
      constructor: 'a string, not a class',
      hasOwnProperty: 1,
      toString: null,
      valueOf: [1],
      isPrototypeOf: false,
      prototype: { plain: true },
      nested: { constructor: { name: 'an object without a prototype key' } },
    }),
  },
  {
    name: 'objects without a prototype (read back as plain objects)',
    value: () =>
      Object.assign(Object.create(null), { a: 1, inner: Object.assign(Object.create(null), { b: 2 }) }),
    expected: () => ({ a: 1, inner: { b: 2 } }),
  },
  { name: 'a 1 MiB string', value: () => 'abcdefghijklmnop'.repeat(MiB / 16) },
  {
    name: 'a 1 MiB string of NUL, control and astral characters',
    value: () => '\u0000\u001f😀é'.repeat(Math.floor(MiB / 5)),
  },
  {
    name: 'a state of about 5 MiB with 20,000 records',
    value: () =>
      Array.from({ length: 20_000 }, (_, index) => ({
        index,
        name: `record ${index}`,
        text: 'lorem ipsum dolor sit amet '.repeat(9),
        tags: ['a', 'b', index % 7 === 0 ? null : index / 7],
      })),
  },
];

async function roundTrip(store: PluginStateStorage, value: JsonValue, expected: JsonValue): Promise<void> {
  const id = newId();
  const saved = await store.saveState(stateOf(id, value));
  // Compared as JSON text: whether the result is a copy is checked by the copy tests.
  assert.equal(JSON.stringify(saved.data), JSON.stringify(expected), 'saveState returns the data as stored');
  const loaded = await store.loadState(id);
  assert.deepStrictEqual(loaded?.data, expected, 'loadState returns the data exactly');
  const listed = (await store.listStates()).find((state) => state.pluginId === id);
  assert.deepStrictEqual(listed?.data, expected, 'listStates returns the data exactly');
}

/** Valid but unusual JSON: scalars, numbers at the edges, unicode, odd keys, big states. */
export function edgeJsonTests(suite: Suite): void {
  suite.describe('unicode and edge JSON', () => {
    for (const edge of CASES) {
      suite.test(`round-trips ${edge.name}`, async (store) => {
        const value = edge.value();
        await roundTrip(store, value, edge.expected ? edge.expected() : value);
      });
    }

    suite.test('-0 reads back as 0, as JSON has it', async (store) => {
      const id = newId();
      const saved = await store.saveState(stateOf(id, -0));
      assert.ok(
        Object.is(saved.data, 0),
        `saveState returns the stored value 0, got ${Object.is(saved.data, -0) ? '-0' : String(saved.data)}`,
      );
      const loaded = await store.loadState(id);
      assert.ok(Object.is(loaded?.data, 0), 'loadState returns 0, not -0');
      const other = newId();
      await store.saveState(stateOf(other, { a: [-0], b: -0 }));
      const nested = (await store.loadState(other))?.data as { a: number[]; b: number };
      assert.ok(Object.is(nested.a[0], 0) && Object.is(nested.b, 0), 'nested -0 reads back as 0');
    });
  });
}
