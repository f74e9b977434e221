// The stress run (issue 6, item 9): several processes (test/helpers/stress-worker.ts) run a seeded
// random mix of every storage operation on the same ids of one store at once, each logging what it
// was acknowledged and what it saw; once they end, a fresh store reads everything back and the logs
// and the final reads are checked against the model (stress-model.ts). Then the store itself: no
// leftover temp, lock or corrupt file (file), PRAGMA integrity_check (SQLite), nothing reported.
// Used by stress.test.ts (the short form in `npm test`) and stress-long.ts (`npm run test:stress`).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  openStorage,
  type PluginState,
  type PluginStateStorage,
  pluginIdFromName,
  type StateReport,
} from '../../src/index.js';
import { Child, helperScript } from '../helpers/processes.js';
import { contentHash, counterOf, type LogEntry, type WorkerSummary } from './stress-data.js';
import { checkModel, END_OF_TIME } from './stress-model.js';

export const STRESS_WORKER = helperScript('stress-worker.ts');

export type Backend = 'file' | 'sqlite';

export interface StressOptions {
  backend: Backend;
  /** A fresh folder: the store (a folder, or a database file in it) and the logs go there. */
  dir: string;
  /** Operations per process. */
  rounds: number;
  seed: number;
  /** 4 unless told. */
  processes?: number;
  /** 100 unless told. */
  plugins?: number;
  /** Of the plugins, how many are counters (10 unless told). */
  counters?: number;
  /** Operations each process keeps in flight at once (2 unless told). */
  lanes?: number;
  /** Breaks the processes' store on purpose (PLUGIN_STATE_STRESS_FAULT, see stress-worker.ts). */
  fault?: 'ignore-expected-revision' | 'stale-lists';
}

/** What a stress run did and found: a pass has no problems. */
export interface StressResult {
  backend: Backend;
  seed: number;
  processes: number;
  plugins: number;
  rounds: number;
  /** Acknowledged operations per kind, all processes together. */
  ops: Record<string, number>;
  conflicts: number;
  /** Acknowledged increments of the counters, and what the counters hold at the end. */
  increments: number;
  countersTotal: number;
  checks: Record<string, number>;
  found: Record<string, number>;
  problems: string[];
  /** From "go" to the last process's summary, and the whole run with the checks. */
  workMs: number;
  wallMs: number;
}

export async function runStress(options: StressOptions): Promise<StressResult> {
  const started = performance.now();
  const { backend, dir, rounds, seed } = options;
  const processes = options.processes ?? 4;
  const plugins = options.plugins ?? 100;
  const counterCount = options.counters ?? 10;
  const ids = Array.from({ length: plugins }, (_, i) => pluginIdFromName(`stress-${seed}-${i}`));
  const counters = new Set(ids.slice(0, counterCount));
  const place = backend === 'file' ? join(dir, 'states') : join(dir, 'states.db');
  const url = `${backend}:${place}`;
  const logs = Array.from({ length: processes }, (_, p) => join(dir, `process-${p}.log`));

  const result: StressResult = {
    backend,
    seed,
    processes,
    plugins,
    rounds,
    ops: {},
    conflicts: 0,
    increments: 0,
    countersTotal: 0,
    checks: {},
    found: {},
    problems: [],
    workMs: 0,
    wallMs: 0,
  };
  const problem = (kind: string, text: string) => {
    result.found[kind] = (result.found[kind] ?? 0) + 1;
    result.problems.push(`${kind}: ${text}`);
  };

  // The store exists before the processes start, so they do not race to create it.
  await (await openStorage(url)).close?.();

  // Generous: a process under load on 2 cores may take ~50 ms an operation.
  const timeout = 60_000 + rounds * 100;
  const children = logs.map(
    (log, p) =>
      new Child(
        [
          url,
          String(seed * 31 + p),
          String(p),
          String(rounds),
          String(options.lanes ?? 2),
          log,
          String(counterCount),
          ids.join(','),
        ],
        {
          script: STRESS_WORKER,
          label: `stress worker ${p} (${backend}, seed ${seed})`,
          lineTimeoutMs: timeout,
          env: { PLUGIN_STATE_STRESS_FAULT: options.fault ?? '' },
        },
      ),
  );
  try {
    for (const child of children) await expectLine(child, 'ready');
    const go = performance.now();
    for (const child of children) child.send('go');
    const summaries = await Promise.all(
      children.map((child) => child.nextJson<WorkerSummary & { error?: unknown }>()),
    );
    result.workMs = Math.round(performance.now() - go);
    summaries.forEach((summary, p) => {
      if (summary.error) throw children[p]!.failure(`failed: ${JSON.stringify(summary.error)}`);
      for (const [kind, n] of Object.entries(summary.ops)) result.ops[kind] = (result.ops[kind] ?? 0) + n;
      result.conflicts += summary.conflicts;
    });
    for (const child of children) await child.finish();
  } finally {
    await Promise.all(children.map((child) => child.kill()));
  }

  // Before any store opens again (opening sweeps leftovers): what the processes left on disk.
  if (backend === 'file') checkFolder(place, problem);
  else await checkDatabase(place, problem);
  result.checks['store files'] = 1;

  const entries: LogEntry[] = logs.flatMap((log) =>
    readFileSync(log, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as LogEntry),
  );
  entries.push(...(await finalReads(url, ids, counters, result, problem)));
  const model = checkModel(entries, ids, counters);
  for (const [what, n] of Object.entries(model.checks)) result.checks[what] = (result.checks[what] ?? 0) + n;
  for (const [kind, n] of Object.entries(model.found)) result.found[kind] = (result.found[kind] ?? 0) + n;
  result.problems.push(...model.problems);
  result.increments = entries.filter((entry) => entry.op === 'write' && entry.kind === 'inc').length;
  if (result.countersTotal !== result.increments) {
    problem(
      'counter',
      `the counters hold ${result.countersTotal} in all; ${result.increments} increments were acknowledged`,
    );
  }
  result.checks['counter totals'] = 1;

  if (backend === 'file') checkFolder(place, problem);
  result.wallMs = Math.round(performance.now() - started);
  return result;
}

/**
 * A fresh store reads every state, the list, every id's kept revisions and each of them, as log
 * entries of "process -1" at the end of time; reports from the store are problems.
 */
async function finalReads(
  url: string,
  ids: readonly string[],
  counters: ReadonlySet<string>,
  result: StressResult,
  problem: (kind: string, text: string) => void,
): Promise<LogEntry[]> {
  const reports: StateReport[] = [];
  const store: PluginStateStorage = await openStorage(url, { onReport: (report) => reports.push(report) });
  const span = { p: -1, t0: END_OF_TIME, t1: END_OF_TIME };
  const entries: LogEntry[] = [];
  const attempt = async <T>(what: string, call: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await call();
    } catch (error) {
      problem('unreadable', `${what} failed in the final check: ${String(error)}`);
      return undefined;
    }
  };
  try {
    const listed = await attempt('listStates', () => store.listStates());
    if (listed) {
      entries.push({
        op: 'list',
        ...span,
        states: listed.map((s) => [s.pluginId, s.revision!, contentHash(s.data)]),
      });
    }
    for (const id of ids) {
      const state = await attempt<PluginState | undefined>(`loadState(${id})`, () => store.loadState(id));
      entries.push({
        op: 'load',
        ...span,
        id,
        rev: state?.revision ?? null,
        h: state ? contentHash(state.data) : null,
      });
      if (counters.has(id)) result.countersTotal += counterOf(state?.data);
      if (!store.listRevisions) continue;
      const revisions = (await attempt(`listRevisions(${id})`, () => store.listRevisions!(id))) ?? [];
      entries.push({
        op: 'revisions',
        ...span,
        id,
        revisions: revisions.map((info) => [info.revision, info.size, info.current]),
      });
      for (const { revision } of revisions) {
        const kept = await attempt(`loadRevision(${id}, ${revision})`, () =>
          store.loadRevision!(id, revision),
        );
        if (!kept)
          problem(
            'lost',
            `${id}: revision ${revision} is listed by listRevisions, but loadRevision finds nothing`,
          );
        entries.push({
          op: 'loadRevision',
          ...span,
          id,
          asked: revision,
          rev: kept?.revision ?? null,
          h: kept ? contentHash(kept.data) : null,
        });
      }
    }
  } finally {
    await store.close?.();
  }
  for (const report of reports) problem('reported', `${report.operation}: ${report.message}`);
  return entries;
}

async function expectLine(child: Child, expected: string): Promise<void> {
  const line = await child.nextLine();
  if (line !== expected)
    throw child.failure(`printed ${JSON.stringify(line)}, not ${JSON.stringify(expected)}`);
}

/** File: nothing in the folder but state files, their history and the change journal. */
function checkFolder(dir: string, problem: (kind: string, text: string) => void): void {
  for (const name of readdirSync(dir)) {
    if (/^[0-9a-f-]{36}\.json(\.~(\d+|last))?$/.test(name) || name === '.changes.log') continue;
    problem(
      /\.tmp-/.test(name) ? 'leftover' : /corrupt/.test(name) ? 'unreadable' : 'leftover',
      `${dir} holds ${name}`,
    );
  }
}

/** SQLite: the database (and its WAL) opens with a plain connection and passes integrity_check. */
async function checkDatabase(path: string, problem: (kind: string, text: string) => void): Promise<void> {
  const { default: Database } = await import('better-sqlite3');
  let db: InstanceType<typeof Database> | undefined;
  try {
    db = new Database(path);
    const result = db.pragma('integrity_check', { simple: true });
    if (result !== 'ok') problem('unreadable', `PRAGMA integrity_check of ${path}: ${String(result)}`);
  } catch (error) {
    problem('unreadable', `the database ${path} does not open or check: ${String(error)}`);
  } finally {
    db?.close();
  }
}

/** The run's figures, a few lines for a log or a terminal. */
export function describeResult(r: StressResult): string {
  const ops = Object.entries(r.ops)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([kind, n]) => `${kind} ${n}`)
    .join(', ');
  const total = Object.values(r.ops).reduce((sum, n) => sum + n, 0);
  const checks = Object.entries(r.checks)
    .map(([what, n]) => `${what} ${n}`)
    .join(', ');
  const found = Object.entries(r.found)
    .map(([kind, n]) => `${kind} ${n}`)
    .join(', ');
  return [
    `${r.backend}: seed ${r.seed}, ${r.processes} processes × ${r.rounds} rounds on ${r.plugins} plugins: ` +
      `${total} operations in ${(r.workMs / 1000).toFixed(1)} s (${Math.round(total / (r.workMs / 1000))}/s), ` +
      `${(r.wallMs / 1000).toFixed(1)} s with the checks`,
    `  operations: ${ops}`,
    `  conflicts retried ${r.conflicts}; ` +
      `counters: ${r.increments} increments acknowledged, ${r.countersTotal} counted`,
    `  checks: ${checks}`,
    `  found: ${found || 'nothing'}`,
    ...r.problems.slice(0, 20).map((text) => `  ${text}`),
  ].join('\n');
}
