// Throughput of concurrent writers on distinct ids: N child processes (bench/writer.ts, each with
// its own storage instance on the same folder, database file or table, as separate host
// processes would have), each saving its own id, all started at once. The processes are started
// once and serve every backend in turn. Reported: total saves per
// second over the span from the first writer's start to the last one's end, and the per-save
// latency over all writers' saves. Afterwards every id's revision is checked: no acknowledged save
// may be missing.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStorage } from '../src/index.js';
import { type PostgresEnv, tableFor } from './postgres-env.js';
import { type Summary, summarize } from './stats.js';
import type { WriterJob, WriterResult } from './writer.js';

export type ThroughputBackend = 'file' | 'sqlite' | 'postgres';

export interface ThroughputRow {
  backend: ThroughputBackend;
  writers: number;
  savesPerWriter: number;
  totalSaves: number;
  /** From the first writer's first timed save to the last writer's last one. */
  seconds: number;
  savesPerSecond: number;
  /** Per-save latency over all writers' timed saves, in ms. */
  summary: Summary;
}

export interface ThroughputPlan {
  writers: readonly number[];
  savesPerWriter: number;
  warmup: number;
}

const WRITER = fileURLToPath(new URL('./writer.ts', import.meta.url));
const repo = resolve(dirname(WRITER), '..');

/** A writer process and a line-by-line view of its stdout. */
class Writer {
  readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: string[] = [];
  private readonly waiting: ((line: string | undefined) => void)[] = [];
  private stderr = '';
  private ended = false;

  constructor() {
    this.child = spawn(process.execPath, ['--import', 'tsx', WRITER], {
      cwd: repo,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let partial = '';
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => {
      partial += chunk;
      for (let newline = partial.indexOf('\n'); newline >= 0; newline = partial.indexOf('\n')) {
        const line = partial.slice(0, newline);
        partial = partial.slice(newline + 1);
        const waiter = this.waiting.shift();
        if (waiter) waiter(line);
        else this.lines.push(line);
      }
    });
    this.child.stdout.on('end', () => {
      this.ended = true;
      for (const waiter of this.waiting.splice(0)) waiter(undefined);
    });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
  }

  nextLine(timeoutMs: number): Promise<string> {
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((done, fail) => {
      const failure = (why: string) =>
        new Error(`writer process ${why}; its stderr: ${this.stderr.trim().slice(-2000) || '(empty)'}`);
      if (this.ended) return fail(failure('ended its output'));
      const timer = setTimeout(() => fail(failure(`printed nothing for ${timeoutMs} ms`)), timeoutMs);
      this.waiting.push((line) => {
        clearTimeout(timer);
        if (line === undefined) fail(failure('ended its output'));
        else done(line);
      });
    });
  }

  send(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  async expect(expected: string, timeoutMs: number): Promise<void> {
    const line = await this.nextLine(timeoutMs);
    if (line !== expected) throw new Error(`writer printed ${JSON.stringify(line)} instead of ${expected}`);
  }
}

/** The writer processes, started once (in parallel) for all measurements. */
export class WriterPool {
  private constructor(readonly writers: readonly Writer[]) {}

  static async start(count: number): Promise<WriterPool> {
    const pool = new WriterPool(Array.from({ length: count }, () => new Writer()));
    try {
      await Promise.all(pool.writers.map((w) => w.expect('up', 120_000)));
    } catch (error) {
      pool.close();
      throw error;
    }
    return pool;
  }

  close(): void {
    for (const writer of this.writers) {
      writer.child.stdin.end(); // a writer exits when its stdin ends
      const timer = setTimeout(() => writer.kill(), 5_000);
      writer.child.once('exit', () => clearTimeout(timer));
    }
  }
}

/** Where a backend's writers store: a fresh folder, database file or table for each measurement. */
function place(
  backend: ThroughputBackend,
  key: string,
  root: string,
  postgres: PostgresEnv | undefined,
): { url: string; cleanUp: () => Promise<void> } {
  const dir = join(root, key);
  const removeDir = async () => rmSync(dir, { recursive: true, force: true });
  switch (backend) {
    case 'file':
      return { url: `file:${dir}`, cleanUp: removeDir };
    case 'sqlite':
      return { url: `sqlite:${join(dir, 'states.db')}`, cleanUp: removeDir };
    case 'postgres': {
      if (!postgres) throw new Error('no PostgreSQL server');
      const table = tableFor(key);
      return { url: postgres.storageUrl(table), cleanUp: () => postgres.dropTable(table) };
    }
  }
}

/** One measurement: `writers` processes × `savesPerWriter` saves of 1 KB, each on its own id. */
export async function measureThroughput(
  pool: WriterPool,
  backend: ThroughputBackend,
  writers: number,
  plan: ThroughputPlan,
  root: string,
  postgres: PostgresEnv | undefined,
): Promise<ThroughputRow> {
  const { url, cleanUp } = place(backend, `throughput-${backend}-${writers}`, root, postgres);
  const children = pool.writers.slice(0, writers);
  if (children.length < writers) throw new Error(`only ${pool.writers.length} writer processes`);
  try {
    // Create the folder / database / table once, so that the writers only open it.
    const setup = await openStorage(url);
    await setup.close?.();

    const ids = Array.from({ length: writers }, () => randomUUID());
    children.forEach((child, i) => {
      const job: WriterJob = { url, pluginId: ids[i]!, saves: plan.savesPerWriter, warmup: plan.warmup };
      child.send(JSON.stringify(job));
    });
    await Promise.all(children.map((child) => child.expect('ready', 120_000)));
    for (const child of children) child.send('go');
    const results = await Promise.all(
      children.map(async (child) => JSON.parse(await child.nextLine(300_000)) as WriterResult),
    );

    // Every acknowledged save is there: one revision per save, none lost.
    const check = await openStorage(url);
    try {
      for (const id of ids) {
        const state = await check.loadState(id);
        const expected = plan.warmup + plan.savesPerWriter;
        if (state?.revision !== expected) {
          throw new Error(
            `${backend}: id ${id} is at revision ${String(state?.revision)}, expected ${expected}`,
          );
        }
      }
    } finally {
      await check.close?.();
    }

    const start = results.reduce(
      (min, r) => (BigInt(r.startNs) < min ? BigInt(r.startNs) : min),
      BigInt(results[0]!.startNs),
    );
    const end = results.reduce((max, r) => (BigInt(r.endNs) > max ? BigInt(r.endNs) : max), 0n);
    const seconds = Number(end - start) / 1e9;
    const samples = results.flatMap((r) => r.samples);
    return {
      backend,
      writers,
      savesPerWriter: plan.savesPerWriter,
      totalSaves: samples.length,
      seconds,
      savesPerSecond: samples.length / seconds,
      summary: summarize(samples),
    };
  } finally {
    await cleanUp().catch(() => undefined);
  }
}
