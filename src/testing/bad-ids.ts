import assert from 'node:assert/strict';
import { ValidationError } from '../core/errors.js';
import type { PluginState } from '../core/types.js';
import { newId, rejectsWith, type Suite, show, stateOf } from './harness.js';

const VALID = '1b4e28ba-2fa1-41d2-883f-0016d3cca427';
const SOME_ISO = '2024-02-29T12:34:56.789Z';

/** Ids every backend refuses; some would escape a folder or a key prefix if they reached the medium. */
const BAD_IDS: [string, unknown][] = [
  ['an empty string', ''],
  ['a path escaping the folder', '../x'],
  ['a path to another id', `../${VALID}`],
  ['a word', 'not-a-uuid'],
  ['a number', 42],
  ['undefined', undefined],
  ['null', null],
  ['an object', { id: VALID }],
  ['a UUID with extra characters after it', `${VALID}x`],
  ['a UUID with a path after it', `${VALID}/..`],
  ['a UUID with a leading space', ` ${VALID}`],
  ['a UUID with a trailing newline', `${VALID}\n`],
  ['a UUID in braces', `{${VALID}}`],
  ['a UUID without dashes', VALID.replaceAll('-', '')],
  ['a UUID with a non-hex letter', `${VALID.slice(0, 35)}g`],
  ['a UUID with a NUL', `${VALID.slice(0, 35)}\u0000`],
  ['a glob', '*'],
];

/** Invalid ids and malformed states are refused before any I/O, on every operation. */
export function badIdTests(suite: Suite): void {
  suite.describe('bad ids', () => {
    for (const [name, id] of BAD_IDS) {
      suite.test(
        `${name} is a ValidationError on save, load and delete, and creates nothing`,
        async (store) => {
          const bad = id as string;
          const what = (operation: string) => `${operation}(${show(id)})`;
          await rejectsWith(what('saveState'), ValidationError, 'VALIDATION', () =>
            store.saveState(stateOf(bad, { x: 1 })),
          );
          await rejectsWith(what('saveState with expectedRevision 0'), ValidationError, 'VALIDATION', () =>
            store.saveState(stateOf(bad, { x: 1 }), { expectedRevision: 0 }),
          );
          await rejectsWith(what('loadState'), ValidationError, 'VALIDATION', () => store.loadState(bad));
          await rejectsWith(what('deleteState'), ValidationError, 'VALIDATION', () => store.deleteState(bad));
          assert.deepEqual(await store.listStates(), [], 'nothing was created');
        },
      );
    }

    suite.test('a bad id does not touch a stored state', async (store) => {
      const id = newId();
      await store.saveState(stateOf(id, 'kept'));
      for (const bad of [`${id}x`, `../${id}`, `${id}/..`, ` ${id}`]) {
        await rejectsWith(`deleteState(${show(bad)})`, ValidationError, 'VALIDATION', () =>
          store.deleteState(bad),
        );
        await rejectsWith(`saveState(${show(bad)})`, ValidationError, 'VALIDATION', () =>
          store.saveState(stateOf(bad, 'overwritten')),
        );
      }
      const loaded = await store.loadState(id);
      assert.equal(loaded?.data, 'kept');
      assert.equal(loaded?.revision, 1);
      assert.equal((await store.listStates()).length, 1);
    });
  });

  suite.describe('malformed states', () => {
    const cases: [string, () => unknown][] = [
      ['null instead of a state', () => null],
      ['a string instead of a state', () => VALID],
      ['version 0', () => stateOf(newId(), 1, { version: 0 })],
      ['version -1', () => stateOf(newId(), 1, { version: -1 })],
      ['version 1.5', () => stateOf(newId(), 1, { version: 1.5 })],
      ['version NaN', () => stateOf(newId(), 1, { version: Number.NaN })],
      ['version as a string', () => stateOf(newId(), 1, { version: '2' as unknown as number })],
      ['an invalid Date as lastModified', () => stateOf(newId(), 1, { lastModified: new Date(Number.NaN) })],
      ['a string as lastModified', () => stateOf(newId(), 1, { lastModified: SOME_ISO as unknown as Date })],
    ];
    for (const [name, build] of cases) {
      suite.test(`${name} is a ValidationError and stores nothing`, async (store) => {
        const state = build();
        await rejectsWith(`saveState(${name})`, ValidationError, 'VALIDATION', () =>
          store.saveState(state as PluginState),
        );
        assert.deepEqual(await store.listStates(), [], 'nothing was stored');
      });
    }
  });
}
