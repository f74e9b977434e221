// Issue 6, item 9, short form: 4 processes run a mixed load on 100 plugins of one store (file, then
// SQLite) and everything they were acknowledged and saw is checked against the model (see
// stress-run.ts and stress-model.ts); then the model is shown to catch what it is there to catch.
// `npm run test:stress` is the long form. PLUGIN_STATE_STRESS_SEED replays a run;
// PLUGIN_STATE_STRESS_ROUNDS sets the operations per process.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tempDir } from '../helpers/temp-dir.js';
import type { LogEntry, WriteKind } from './stress-data.js';
import { checkModel } from './stress-model.js';
import { type Backend, describeResult, runStress } from './stress-run.js';

const ROUNDS = Number(process.env.PLUGIN_STATE_STRESS_ROUNDS ?? 300);
const SEED = Number(process.env.PLUGIN_STATE_STRESS_SEED ?? Math.floor(Math.random() * 1_000_000));

describe('stress: 4 processes × mixed operations on 100 plugins, checked against the model', () => {
  for (const backend of ['file', 'sqlite'] satisfies Backend[]) {
    it(`${backend}: nothing lost, duplicated, torn or unknown (seed ${SEED})`, {
      timeout: 300_000,
    }, async (t) => {
      const result = await runStress({ backend, dir: tempDir(t), rounds: ROUNDS, seed: SEED });
      t.diagnostic(describeResult(result));
      assert.deepEqual(
        result.problems,
        [],
        `${describeResult(result)}\nreplay with PLUGIN_STATE_STRESS_SEED=${SEED} PLUGIN_STATE_STRESS_ROUNDS=${ROUNDS}`,
      );
      for (const kind of ['inc', 'save', 'big', 'cas', 'load', 'delete', 'list', 'history', 'restore']) {
        assert.ok((result.ops[kind] ?? 0) > 0, `no ${kind} was acknowledged`);
      }
    });
  }

  it('catches lost updates: compare-and-set broken into plain saves', { timeout: 120_000 }, async (t) => {
    const result = await runStress({
      backend: 'file',
      dir: tempDir(t),
      rounds: 60,
      seed: SEED,
      plugins: 10,
      counters: 1,
      fault: 'ignore-expected-revision',
    });
    assert.ok((result.found.counter ?? 0) > 0, describeResult(result));
  });

  it('catches stale lists: listStates answering with its first answer', { timeout: 120_000 }, async (t) => {
    const result = await runStress({
      backend: 'file',
      dir: tempDir(t),
      rounds: 60,
      seed: SEED,
      plugins: 10,
      counters: 2,
      fault: 'stale-lists',
    });
    assert.ok((result.found.stale ?? 0) + (result.found.lost ?? 0) > 0, describeResult(result));
  });
});

describe('the stress model', () => {
  let clock = 0;
  /** An operation of process `p` that starts after everything before it ended (unless `at` says when). */
  const span = (p = 0, at?: [number, number]) => {
    const [t0, t1] = at ?? [clock + 1, clock + 2];
    clock = Math.max(clock, t1);
    return { p, t0, t1 };
  };
  const write = (
    rev: number,
    h: string,
    kind: WriteKind = 'save',
    extra = {},
    at?: [number, number],
  ): LogEntry => ({
    op: 'write',
    kind,
    ...span(0, at),
    id: 'a',
    rev,
    h,
    size: 10,
    ...extra,
  });
  const load = (rev: number | null, h: string | null, at?: [number, number]): LogEntry => ({
    op: 'load',
    ...span(1, at),
    id: 'a',
    rev,
    h,
  });
  const del = (at?: [number, number]): LogEntry => ({ op: 'delete', ...span(0, at), id: 'a' });
  const found = (entries: LogEntry[], counters: string[] = []) =>
    checkModel(entries, ['a'], new Set(counters)).found;

  it('passes a history that a correct store can produce, concurrent operations included', () => {
    const entries = [
      write(1, 'h1'),
      load(1, 'h1'),
      write(2, 'h2', 'save', {}, [100, 200]),
      load(1, 'h1', [110, 120]), // overlaps the write of 2: may see 1
      load(2, 'h2', [130, 140]), // or 2
      del([300, 400]),
      load(2, 'h2', [310, 320]), // overlaps the delete
      load(null, null, [330, 340]),
      load(null, null),
      write(3, 'h3', 'cas'),
      write(4, 'h1', 'restore', { from: 1 }),
      { op: 'list', ...span(1), states: [['a', 4, 'h1']] } satisfies LogEntry,
      {
        op: 'revisions',
        ...span(1),
        id: 'a',
        revisions: [
          [4, 10, true],
          [3, 10, false],
        ],
      } satisfies LogEntry,
      { op: 'loadRevision', ...span(1), id: 'a', asked: 3, rev: 3, h: 'h3' } satisfies LogEntry,
      { op: 'loadRevision', ...span(1), id: 'a', asked: 1, rev: null, h: null } satisfies LogEntry,
    ];
    assert.deepEqual(checkModel(entries, ['a'], new Set()).problems, []);
  });

  it('finds two writes acknowledged with one revision', () => {
    assert.equal(found([write(1, 'h1'), write(1, 'h2')]).duplicate, 1);
  });

  it('finds a numbering that starts again after a delete', () => {
    const model = checkModel([write(5, 'h5'), del(), write(1, 'h1')], ['a'], new Set());
    assert.equal(model.found.order, 1);
    assert.match(model.problems[0]!, /did not go on after a delete/);
  });

  it('finds torn, unknown, stale, deleted and lost reads', () => {
    assert.equal(found([write(1, 'h1'), load(1, 'torn')]).torn, 1);
    assert.equal(found([write(1, 'h1'), load(2, 'h2')]).unknown, 1);
    assert.equal(found([write(1, 'h1'), write(2, 'h2'), load(1, 'h1')]).stale, 1);
    assert.equal(found([write(1, 'h1'), del(), load(1, 'h1')]).stale, 1);
    assert.equal(found([write(1, 'h1'), load(null, null)]).lost, 1);
    assert.equal(found([write(1, 'h1'), { op: 'list', ...span(1), states: [] }]).lost, 1);
    assert.equal(found([write(1, 'h1'), { op: 'list', ...span(1), states: [['a', 1, 'x']] }]).torn, 1);
  });

  it('finds a lost increment and a restore of the wrong content', () => {
    assert.ok(
      found([write(1, 'c1', 'inc', { count: 1 }), write(2, 'c2', 'inc', { count: 1 })], ['a']).counter! > 0,
    );
    assert.equal(found([write(1, 'h1'), write(2, 'h2'), write(3, 'h2', 'restore', { from: 1 })]).restore, 1);
  });

  it('finds a kept revision listed with the wrong size or never written', () => {
    const list = (revisions: Array<[number, number, boolean]>): LogEntry => ({
      op: 'revisions',
      ...span(1),
      id: 'a',
      revisions,
    });
    assert.equal(
      found([
        write(1, 'h1'),
        write(2, 'h2'),
        list([
          [2, 10, true],
          [1, 11, false],
        ]),
      ]).history,
      1,
    );
    assert.equal(
      found([
        write(1, 'h1'),
        list([
          [1, 10, true],
          [0, 10, false],
        ]),
      ]).unknown,
      1,
    );
  });
});
