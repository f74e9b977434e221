// One of the stress test's processes (test/reliability/stress-run.ts): a seeded random mix of every
// storage operation over ids that the other processes work on at the same time.
// Run as: node --import tsx test/helpers/stress-worker.ts <url> <seed> <proc> <rounds> <lanes> <log> <counters> <id,id,...>
//
// Opens the store with openStorage(<url>), prints "ready", waits for "go" on stdin, then runs
// <lanes> lanes at once, <rounds> operations in all. The first <counters> ids are counters: only
// compare-and-set increments ever write them (never a plain save, delete or restore), so their
// final value must equal the number of acknowledged increments. On the other ids:
//
//   save      plain save (last-writer-wins), a few hundred bytes
//   big       plain save of 64-320 KiB
//   cas       load, then save with expectedRevision; retried on ConflictError (up to 8 times, then
//             counted as cas-gave-up)
//   load      loadState (of a counter, too)
//   delete    deleteState
//   list      listStates
//   history   listRevisions, then loadRevision of one listed revision (or one just past the top)
//   restore   listRevisions, then restoreRevision of one kept revision (restore-none when none is
//             kept; a ValidationError means another process's saves dropped it meanwhile:
//             restore-missed, not a failure)
//
// Each operation is appended to <log> as one JSON line (see LogEntry in stress-data.ts) only after
// its promise resolved, with what it wrote or saw. At the end the worker closes the store and prints
// its summary (WorkerSummary). Any unexpected error prints {"error":{...}} and exits with code 2.
//
// PLUGIN_STATE_STRESS_FAULT breaks the store on purpose, to prove the parent's model catches it:
// "ignore-expected-revision" (every compare-and-set becomes a plain save: lost updates) or
// "stale-lists" (listStates answers with what it first listed: stale, lost and deleted states).
import { closeSync, openSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import {
  ConflictError,
  type JsonValue,
  openStorage,
  type PluginState,
  type PluginStateStorage,
  ValidationError,
} from '../../src/index.js';
import { random } from '../reliability/crash-data.js';
import {
  contentHash,
  counterData,
  counterOf,
  type LogEntry,
  now,
  sizeOf,
  type WorkerSummary,
  writeData,
} from '../reliability/stress-data.js';
import { print } from './increment-loop.js';

const [url, seedText, procText, roundsText, lanesText, logPath, countersText, idList] = process.argv.slice(2);
if (!url || !seedText || !procText || !roundsText || !lanesText || !logPath || !countersText || !idList) {
  throw new Error(
    'usage: stress-worker.ts <url> <seed> <proc> <rounds> <lanes> <log> <counters> <id,id,...>',
  );
}
const proc = Number(procText);
const ids = idList.split(',');
const counters = ids.slice(0, Number(countersText));
const others = ids.slice(Number(countersText));

/** Cumulative weights of the operations on the other ids (counters get `inc`). */
const MIX: Array<[kind: string, weight: number]> = [
  ['inc', 14],
  ['save', 20],
  ['big', 3],
  ['cas', 15],
  ['load', 14],
  ['delete', 6],
  ['list', 3],
  ['history', 12],
  ['restore', 8],
  ['load-counter', 5],
];
const TOTAL = MIX.reduce((sum, [, weight]) => sum + weight, 0);
const CAS_ATTEMPTS = 8;
const INC_ATTEMPTS = 10_000;

const summary: WorkerSummary = { ops: {}, conflicts: 0, ms: 0 };
const log = openSync(logPath, 'a');
let seq = 0;
let doing = 'open';

function record(entry: LogEntry): void {
  writeSync(log, `${JSON.stringify(entry)}\n`);
}

function count(kind: string): void {
  summary.ops[kind] = (summary.ops[kind] ?? 0) + 1;
}

function fail(error: unknown, op: string): never {
  const e = error as Error & { code?: unknown };
  print({ error: { name: e?.name, code: e?.code, message: String(e?.message ?? e), op, stack: e?.stack } });
  process.exit(2);
}

function pick<T>(items: readonly T[], next: () => number): T {
  return items[Math.floor(next() * items.length)]!;
}

function by(): string {
  return `p${proc}-${seq++}`;
}

function logWrite(
  kind: 'save' | 'big' | 'cas' | 'inc' | 'restore',
  t0: number,
  saved: PluginState,
  extra: { from?: number; count?: number } = {},
): void {
  record({
    op: 'write',
    kind,
    p: proc,
    t0,
    t1: now(),
    id: saved.pluginId,
    rev: saved.revision!,
    h: contentHash(saved.data),
    size: sizeOf(saved.data),
    ...extra,
  });
}

async function load(store: PluginStateStorage, id: string): Promise<PluginState | undefined> {
  const t0 = now();
  const state = await store.loadState(id);
  record({
    op: 'load',
    p: proc,
    t0,
    t1: now(),
    id,
    rev: state?.revision ?? null,
    h: state ? contentHash(state.data) : null,
  });
  return state;
}

async function listRevisions(store: PluginStateStorage, id: string) {
  const t0 = now();
  const revisions = await store.listRevisions!(id);
  record({
    op: 'revisions',
    p: proc,
    t0,
    t1: now(),
    id,
    revisions: revisions.map((info) => [info.revision, info.size, info.current]),
  });
  return revisions;
}

async function save(store: PluginStateStorage, kind: 'save' | 'big', id: string, next: () => number) {
  const pad = kind === 'big' ? 64 * 1024 + Math.floor(next() * 256 * 1024) : Math.floor(next() * 600);
  const data = writeData(id, by(), pad);
  const t0 = now();
  const saved = await store.saveState({ pluginId: id, data, lastModified: new Date() });
  logWrite(kind, t0, { ...saved, data });
}

/** Load, modify, save with expectedRevision; retried on conflicts. */
async function compareAndSet(store: PluginStateStorage, id: string, next: () => number): Promise<boolean> {
  for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
    const current = await load(store, id);
    const based = current?.revision ?? 0;
    const data = writeData(id, by(), Math.floor(next() * 400), based);
    const t0 = now();
    try {
      const saved = await store.saveState(
        { pluginId: id, data, lastModified: new Date() },
        { expectedRevision: based },
      );
      logWrite('cas', t0, { ...saved, data });
      return true;
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      summary.conflicts++;
    }
  }
  return false;
}

/** One acknowledged compare-and-set increment of a counter, however many conflicts it takes. */
async function increment(store: PluginStateStorage, id: string): Promise<void> {
  for (let attempt = 0; attempt < INC_ATTEMPTS; attempt++) {
    const current = await load(store, id);
    const value = counterOf(current?.data) + 1;
    const data = counterData(id, by(), value);
    const t0 = now();
    try {
      const saved = await store.saveState(
        { pluginId: id, data, lastModified: new Date() },
        { expectedRevision: current?.revision ?? 0 },
      );
      logWrite('inc', t0, { ...saved, data }, { count: value });
      return;
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      summary.conflicts++;
    }
  }
  throw new Error(`increment of ${id}: ${INC_ATTEMPTS} conflicts in a row`);
}

async function history(store: PluginStateStorage, id: string, next: () => number): Promise<void> {
  const revisions = await listRevisions(store, id);
  const top = revisions[0]?.revision ?? 0;
  // Mostly a listed revision; sometimes one just past the top, which must not be found or be new.
  const asked = revisions.length > 0 && next() < 0.85 ? pick(revisions, next).revision : top + 1;
  const t0 = now();
  const state = await store.loadRevision!(id, asked);
  record({
    op: 'loadRevision',
    p: proc,
    t0,
    t1: now(),
    id,
    asked,
    rev: state?.revision ?? null,
    h: state ? contentHash(state.data) : null,
  });
}

/** Restores a kept revision: "restore", or "restore-none" (nothing kept) or "restore-missed" (dropped meanwhile). */
async function restore(store: PluginStateStorage, id: string, next: () => number): Promise<string> {
  const revisions = await listRevisions(store, id);
  const kept = revisions.filter((info) => !info.current);
  if (kept.length === 0) return 'restore-none';
  const from = pick(kept, next).revision;
  const t0 = now();
  try {
    const saved = await store.restoreRevision!(id, from);
    logWrite('restore', t0, saved, { from });
    return 'restore';
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    return 'restore-missed';
  }
}

async function list(store: PluginStateStorage): Promise<void> {
  const t0 = now();
  const states = await store.listStates();
  record({
    op: 'list',
    p: proc,
    t0,
    t1: now(),
    states: states.map((state) => [state.pluginId, state.revision!, contentHash(state.data as JsonValue)]),
  });
}

async function operation(store: PluginStateStorage, next: () => number): Promise<void> {
  let roll = next() * TOTAL;
  let kind = MIX[0]![0];
  for (const [name, weight] of MIX) {
    kind = name;
    if (roll < weight) break;
    roll -= weight;
  }
  const hasHistory = typeof store.listRevisions === 'function';
  if ((kind === 'history' || kind === 'restore') && !hasHistory) kind = 'load';
  const id = kind === 'inc' || kind === 'load-counter' ? pick(counters, next) : pick(others, next);
  doing = `${kind} ${id}`;
  switch (kind) {
    case 'inc':
      await increment(store, id);
      break;
    case 'save':
    case 'big':
      await save(store, kind, id, next);
      break;
    case 'cas':
      if (!(await compareAndSet(store, id, next))) kind = 'cas-gave-up';
      break;
    case 'load':
    case 'load-counter':
      await load(store, id);
      kind = 'load';
      break;
    case 'delete': {
      const t0 = now();
      await store.deleteState(id);
      record({ op: 'delete', p: proc, t0, t1: now(), id });
      break;
    }
    case 'list':
      await list(store);
      break;
    case 'history':
      await history(store, id, next);
      break;
    case 'restore':
      kind = await restore(store, id, next);
      break;
  }
  count(kind);
}

/** The store, broken as PLUGIN_STATE_STRESS_FAULT says (see above), or as it is. */
function withFault(store: PluginStateStorage, fault: string | undefined): PluginStateStorage {
  if (fault === undefined || fault === '') return store;
  if (fault !== 'ignore-expected-revision' && fault !== 'stale-lists')
    throw new Error(`unknown fault ${fault}`);
  let firstList: Promise<PluginState[]> | undefined;
  return {
    saveState: (state, options) => {
      if (fault !== 'ignore-expected-revision') return store.saveState(state, options);
      const { expectedRevision: _ignored, ...rest } = options ?? {};
      return store.saveState(state, rest);
    },
    loadState: (id) => store.loadState(id),
    deleteState: (id) => store.deleteState(id),
    listStates: () => {
      if (fault !== 'stale-lists') return store.listStates();
      firstList ??= store.listStates();
      return firstList;
    },
    listRevisions: (id) => store.listRevisions!(id),
    loadRevision: (id, revision) => store.loadRevision!(id, revision),
    restoreRevision: (id, revision, options) => store.restoreRevision!(id, revision, options),
    close: () => store.close!(),
  };
}

async function main(): Promise<void> {
  const input = createInterface({ input: process.stdin });
  const lines = input[Symbol.asyncIterator]();
  let store: PluginStateStorage;
  try {
    store = withFault(await openStorage(url!), process.env.PLUGIN_STATE_STRESS_FAULT);
  } catch (error) {
    fail(error, `openStorage ${url}`);
  }
  print('ready');
  const go = await lines.next();
  if (go.done || go.value !== 'go') throw new Error(`expected "go", got ${JSON.stringify(go.value)}`);
  const started = performance.now();
  const next = random(Number(seedText));
  const rounds = Number(roundsText);
  const laneCount = Number(lanesText);
  // Each lane runs its own share of the rounds from its own generator, so a seed replays each lane.
  const lane = async (own: () => number, n: number) => {
    const share = Math.floor(rounds / laneCount) + (n < rounds % laneCount ? 1 : 0);
    for (let i = 0; i < share; i++) await operation(store, own);
  };
  try {
    const lanes = Array.from({ length: laneCount }, () => random(Math.floor(next() * 2 ** 32)));
    await Promise.all(lanes.map(lane));
    doing = 'close';
    await store.close?.();
  } catch (error) {
    fail(error, doing);
  }
  closeSync(log);
  summary.ms = Math.round(performance.now() - started);
  print(summary);
  input.close();
}

main().catch((error) => fail(error, 'main'));
