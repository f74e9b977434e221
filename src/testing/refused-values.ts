import assert from 'node:assert/strict';
import { ValidationError } from '../core/errors.js';
import type { JsonValue } from '../core/types.js';
import { newId, rejectsWith, type Suite, stateOf } from './harness.js';
import { assertStored } from './revisions.js';

interface RefusedCase {
  name: string;
  data: () => unknown;
  /** The path the error must name, such as `data.items[3].when`. */
  path: string;
  /** True when the reported path may continue past `path` (a cycle is found some levels down). */
  prefix?: boolean;
}

const AT = 'data.items[3].when';
/** Puts `value` at `data.items[3].when`, inside otherwise valid data. */
const at = (value: unknown) => ({ name: 'ok', items: [0, 1, 2, { when: value, fine: true }] });
const inItem = (item: unknown) => ({ items: [0, 1, 2, item] });

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

function withOwnProtoKey(): object {
  const item = {};
  Object.defineProperty(item, '__proto__', {
    value: { x: 1 },
    enumerable: true,
    writable: true,
    configurable: true,
  });
  return item;
}

function cyclicObject(): object {
  const when: Record<string, unknown> = { name: 'loop' };
  when.self = when;
  return at(when);
}

function cyclicArray(): object {
  const list: unknown[] = [1];
  list.push(list);
  return at(list);
}

function withHole(): object {
  const list = new Array(3);
  list[0] = 0;
  list[2] = 2;
  return { items: list };
}

/** Values that are not plain JSON, each refused with a ValidationError naming where it is. */
const CASES: RefusedCase[] = [
  { name: 'undefined as the whole data', data: () => undefined, path: 'data' },
  { name: 'undefined nested', data: () => at(undefined), path: AT },
  { name: 'a function', data: () => at(() => 1), path: AT },
  { name: 'a symbol value', data: () => at(Symbol('s')), path: AT },
  { name: 'a symbol key', data: () => inItem({ ok: 1, [Symbol('k')]: 1 }), path: 'data.items[3]' },
  { name: 'a BigInt', data: () => at(10n), path: AT },
  { name: 'NaN', data: () => at(Number.NaN), path: AT },
  { name: 'Infinity', data: () => at(Number.POSITIVE_INFINITY), path: AT },
  { name: '-Infinity', data: () => at(Number.NEGATIVE_INFINITY), path: AT },
  { name: 'a Date', data: () => at(new Date(0)), path: AT },
  { name: 'a Map', data: () => at(new Map([['a', 1]])), path: AT },
  { name: 'a Set', data: () => at(new Set([1])), path: AT },
  { name: 'a class instance', data: () => at(new Point(1, 2)), path: AT },
  { name: 'a boxed string', data: () => at(Object('text')), path: AT },
  { name: 'a Uint8Array', data: () => at(new Uint8Array([1, 2])), path: AT },
  { name: 'a RegExp', data: () => at(/x/), path: AT },
  { name: 'an Error', data: () => at(new Error('boom')), path: AT },
  { name: 'a cycle through an object', data: cyclicObject, path: AT, prefix: true },
  { name: 'a cycle through an array', data: cyclicArray, path: AT, prefix: true },
  { name: 'an array hole', data: withHole, path: 'data.items[1]' },
  {
    name: 'a "__proto__" own key (from JSON.parse)',
    data: () => inItem(JSON.parse('{"ok":1,"__proto__":{"x":1}}')),
    path: 'data.items[3].__proto__',
  },
  {
    name: 'a "__proto__" own key (defineProperty)',
    data: () => inItem(withOwnProtoKey()),
    path: 'data.items[3].__proto__',
  },
  {
    name: 'a top-level "__proto__" key',
    data: () => JSON.parse('{"__proto__":{"polluted":true}}'),
    path: 'data.__proto__',
  },
  {
    name: 'a constructor.prototype payload',
    data: () => inItem({ constructor: { prototype: {} } }),
    path: 'data.items[3].constructor',
  },
  {
    name: 'NaN under a key that is not an identifier',
    data: () => ({ 'a b': [Number.NaN] }),
    path: 'data["a b"][0]',
  },
];

/** Checks that `error` points at `expected`: through its first issue when it lists any, else its message. */
function assertNamesPath(error: ValidationError, expected: RefusedCase): void {
  const issue = error.issues[0];
  if (issue) {
    const ok = expected.prefix ? issue.path.startsWith(expected.path) : issue.path === expected.path;
    assert.ok(
      ok,
      `issues[0].path should be ${expected.path}${expected.prefix ? '…' : ''}, got ${issue.path}`,
    );
  } else {
    assert.ok(
      error.message.includes(expected.path),
      `the message should name ${expected.path}: ${error.message}`,
    );
  }
}

/** Anything that is not plain JSON is refused, and nothing already stored changes. */
export function refusedValueTests(suite: Suite): void {
  suite.describe('refused values', () => {
    for (const refused of CASES) {
      suite.test(`${refused.name} is a ValidationError naming ${refused.path}`, async (store) => {
        const id = newId();
        await store.saveState(stateOf(id, { previous: true }));
        const error = await rejectsWith(`saveState(${refused.name})`, ValidationError, 'VALIDATION', () =>
          store.saveState(stateOf(id, refused.data() as JsonValue)),
        );
        assertNamesPath(error, refused);
        assert.ok(error.message.includes(id), `the message names the plugin id: ${error.message}`);
        await assertStored(store, id, { previous: true }, 1, 'the previous state');

        const fresh = newId();
        await rejectsWith(`saveState(${refused.name}) on a new id`, ValidationError, 'VALIDATION', () =>
          store.saveState(stateOf(fresh, refused.data() as JsonValue), { expectedRevision: 0 }),
        );
        assert.equal(await store.loadState(fresh), undefined, 'nothing stored for a new id');
        assert.equal(({} as Record<string, unknown>).x, undefined, 'Object.prototype is not polluted');
        assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is not polluted');
      });
    }
  });
}
