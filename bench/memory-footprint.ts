// How much of the JavaScript heap the library keeps per stored 1 KB state: a child process started
// with --expose-gc stores `count` states, and the heap in use after full collections before and
// after, divided by the count, is the figure. The memory storage holds every state; the file
// storage holds them in its list index once a listStates has run.
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileSystemStateStorage, MemoryStateStorage, type PluginStateStorage } from '../src/index.js';
import { makeStateData, variant } from './data.js';

export interface Footprint {
  kind: 'memory' | 'file';
  count: number;
  stateBytes: number;
  /** heapUsed after gc, before and after storing, in bytes. */
  heapBefore: number;
  heapAfter: number;
  heapPerState: number;
  /** Buffers and other memory outside the heap, per state (for information). */
  externalPerState: number;
  rssPerState: number;
}

const thisFile = fileURLToPath(import.meta.url);
const CHILD_FLAG = '--memory-footprint-child';

/** Runs the measurement for one storage kind in a fresh child process. */
export function measureFootprint(kind: 'memory' | 'file', count: number, dir: string): Footprint {
  const repo = resolve(dirname(thisFile), '..');
  const child = spawnSync(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', thisFile, CHILD_FLAG, kind, String(count), dir],
    { cwd: repo, encoding: 'utf8', maxBuffer: 1 << 20 },
  );
  const lastLine = child.stdout.trim().split('\n').at(-1) ?? '';
  if (child.status !== 0 || !lastLine.startsWith('{')) {
    throw new Error(`memory footprint child (${kind}) failed (status ${child.status}): ${child.stderr}`);
  }
  return JSON.parse(lastLine) as Footprint;
}

async function settle(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  for (let i = 0; i < 3; i++) {
    await new Promise((done) => setImmediate(done)); // let finished operations drop their promises
    gc();
  }
}

async function child(kind: 'memory' | 'file', count: number, dir: string): Promise<void> {
  const template = makeStateData(1024);
  const ids = Array.from({ length: count }, () => randomUUID());
  const storage: PluginStateStorage =
    kind === 'memory' ? new MemoryStateStorage() : new FileSystemStateStorage(dir);
  await storage.open?.();
  // Run every path once so compiled code and lazily made internals are in the baseline.
  const warm = randomUUID();
  await storage.saveState({ pluginId: warm, data: variant(template, 0), lastModified: new Date() });
  await storage.listStates();
  await storage.deleteState(warm);
  await storage.listStates();

  await settle();
  const before = process.memoryUsage();
  for (let i = 0; i < count; i++) {
    await storage.saveState({ pluginId: ids[i]!, data: variant(template, i), lastModified: new Date() });
  }
  if (kind === 'file') {
    const listed = (await storage.listStates()).length; // fills the index; the result is dropped
    if (listed !== count) throw new Error(`listed ${listed} of ${count} states`);
  }
  await settle();
  const after = process.memoryUsage();

  const result: Footprint = {
    kind,
    count,
    stateBytes: Buffer.byteLength(JSON.stringify(variant(template, count - 1))),
    heapBefore: before.heapUsed,
    heapAfter: after.heapUsed,
    heapPerState: (after.heapUsed - before.heapUsed) / count,
    externalPerState: (after.external - before.external) / count,
    rssPerState: (after.rss - before.rss) / count,
  };
  await storage.close?.();
  if (kind === 'file') rmSync(dir, { recursive: true, force: true });
  console.log(JSON.stringify(result));
}

if (process.argv[2] === CHILD_FLAG) {
  const [, , , kind, count, dir] = process.argv;
  if ((kind !== 'memory' && kind !== 'file') || !count || !dir) throw new Error('usage: kind count dir');
  await child(kind, Number(count), join(dir));
}
