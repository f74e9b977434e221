// The cost of state contracts (issue 4): the validation overhead of a zod and a JSON Schema contract
// on a 1 KB save, and what a one-step migration adds to a load, counted in durable writes (fsyncs
// of files and folders) and timed. Part of `npm run bench`; alone: `npm run bench:contracts`.
//
// Validation overhead is measured on memory storage, where a save is pure CPU, so the difference
// between the contract and the plain plugin is the contract's own cost. Samples of the three
// subjects are interleaved so that a slow moment of the machine hits all of them alike.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import {
  type FileSystemApi,
  FileSystemStateStorage,
  type JsonValue,
  MemoryStateStorage,
  nodeFileSystem,
  type Plugin,
  PluginStateManager,
  pluginIdFromName,
  type StateContract,
} from '../src/index.js';
import { type JsonObject, makeStateData } from './data.js';
import { formatMs, type Summary, summarize } from './stats.js';

export interface ContractFigures {
  save: { plain: Summary; zod: Summary; jsonSchema: Summary };
  /** Overhead at p50 over the plain save, ms. */
  overhead: { zod: number; jsonSchema: number };
  load: { plain: Summary; migrating: Summary };
  /** fsyncs (files and folders) of one plain save, one plain load and one migrating load. */
  fsyncs: { save: number; load: number; migratingLoad: number };
  samples: number;
}

/** A zod schema and a JSON Schema that check every field of the bench's state, as a real contract would. */
function schemasFor() {
  const zodItem = z.object({
    id: z.string(),
    title: z.string(),
    done: z.boolean(),
    priority: z.number().int().min(1).max(5),
    score: z.number(),
    tags: z.array(z.string()),
    counts: z.array(z.number().int()),
    created: z.iso.datetime(),
    meta: z.object({
      color: z.string().regex(/^#[0-9a-f]{6}$/),
      pinned: z.boolean(),
      history: z.array(z.object({ at: z.number().int(), by: z.string(), action: z.string() })),
    }),
  });
  const strings = { type: 'array', items: { type: 'string' } };
  const jsonItem = {
    type: 'object',
    properties: {
      id: { type: 'string' },
      title: { type: 'string' },
      done: { type: 'boolean' },
      priority: { type: 'integer', minimum: 1, maximum: 5 },
      score: { type: 'number' },
      tags: strings,
      counts: { type: 'array', items: { type: 'integer' } },
      created: { type: 'string', format: 'date-time' },
      meta: {
        type: 'object',
        properties: {
          color: { type: 'string', pattern: '^#[0-9a-f]{6}$' },
          pinned: { type: 'boolean' },
          history: {
            type: 'array',
            items: {
              type: 'object',
              properties: { at: { type: 'integer' }, by: { type: 'string' }, action: { type: 'string' } },
              required: ['at', 'by', 'action'],
            },
          },
        },
        required: ['color', 'pinned', 'history'],
      },
    },
    required: ['id', 'title', 'done', 'priority', 'score', 'tags', 'counts', 'created', 'meta'],
  };
  return {
    zod: z.object({
      schema: z.number().int(),
      seq: z.number().int(),
      settings: z.object({
        theme: z.enum(['light', 'dark']),
        fontSize: z.number(),
        wordWrap: z.boolean(),
        rulers: z.array(z.number()),
        locale: z.string(),
      }),
      items: z.array(zodItem),
      notes: z.string(),
    }),
    json: {
      type: 'object',
      properties: {
        schema: { type: 'integer' },
        seq: { type: 'integer' },
        settings: {
          type: 'object',
          properties: {
            theme: { enum: ['light', 'dark'] },
            fontSize: { type: 'number' },
            wordWrap: { type: 'boolean' },
            rulers: { type: 'array', items: { type: 'number' } },
            locale: { type: 'string' },
          },
          required: ['theme', 'fontSize', 'wordWrap', 'rulers', 'locale'],
        },
        items: { type: 'array', items: jsonItem },
        notes: { type: 'string' },
      },
      required: ['schema', 'seq', 'settings', 'items', 'notes'],
    },
  };
}

class BenchPlugin implements Plugin {
  readonly id: string;
  constructor(
    name: string,
    public data: JsonValue,
    readonly stateContract?: StateContract,
  ) {
    this.id = pluginIdFromName(name);
  }
  getState(): JsonValue {
    return this.data;
  }
  setState(data: JsonValue): void {
    this.data = data;
  }
}

/** An fs that counts fsync calls: a durable write is one fsync of the file and one of its folder. */
function countingFs(): { fs: FileSystemApi; fsyncs: () => number } {
  let count = 0;
  const fs: FileSystemApi = {
    ...nodeFileSystem,
    fsyncSync: (fd: number) => {
      count++;
      nodeFileSystem.fsyncSync(fd);
    },
  };
  return { fs, fsyncs: () => count };
}

async function timed(task: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await task();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export async function measureContracts(dataRoot: string, quick: boolean): Promise<ContractFigures> {
  const samples = quick ? 200 : 3000;
  const warmup = quick ? 50 : 300;
  const base = makeStateData(1024) as JsonObject;
  const schemas = schemasFor();

  // Validation overhead on a save (memory storage: CPU only).
  const manager = new PluginStateManager(new MemoryStateStorage({ history: 0 }), { secretScanning: 'off' });
  const subjects = {
    plain: new BenchPlugin('bench-plain', base),
    zod: new BenchPlugin('bench-zod', base, { version: 1, schema: schemas.zod }),
    jsonSchema: new BenchPlugin('bench-json-schema', base, { version: 1, schema: schemas.json }),
  };
  const times = { plain: [] as number[], zod: [] as number[], jsonSchema: [] as number[] };
  for (let round = 0; round < warmup + samples; round++) {
    for (const name of ['plain', 'zod', 'jsonSchema'] as const) {
      const ms = await timed(() => manager.saveState(subjects[name]));
      if (round >= warmup) times[name].push(ms);
    }
  }
  await manager.close();
  const save = {
    plain: summarize(times.plain),
    zod: summarize(times.zod),
    jsonSchema: summarize(times.jsonSchema),
  };

  // A one-step migration on load, on durable file storage: fsyncs counted, times compared.
  const dir = join(dataRoot, 'contracts');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { fs, fsyncs } = countingFs();
  const storage = new FileSystemStateStorage(dir, { fs });
  const files = new PluginStateManager(storage, { secretScanning: 'off' });
  const stepped: StateContract = {
    version: 2,
    migrations: { 2: (data: JsonObject) => ({ ...data, migrated: true }) },
  };
  const loads = { plain: [] as number[], migrating: [] as number[] };
  const count = { save: 0, load: 0, migratingLoad: 0 };
  const rounds = quick ? 50 : 500;
  for (let round = 0; round < rounds; round++) {
    const plain = new BenchPlugin(`bench-load-${round}`, base);
    const before = fsyncs();
    await files.saveState(plain);
    count.save = fsyncs() - before;
    const loadStart = fsyncs();
    loads.plain.push(await timed(() => files.loadState(plain)));
    count.load = fsyncs() - loadStart;
    // The same id, stored at version 1, loaded by a plugin of version 2: one migration step.
    const upgraded = new BenchPlugin(`bench-load-${round}`, null, stepped);
    const migrateStart = fsyncs();
    loads.migrating.push(await timed(() => files.loadState(upgraded)));
    count.migratingLoad = fsyncs() - migrateStart;
  }
  await files.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    save,
    overhead: { zod: save.zod.p50 - save.plain.p50, jsonSchema: save.jsonSchema.p50 - save.plain.p50 },
    load: { plain: summarize(loads.plain), migrating: summarize(loads.migrating) },
    fsyncs: count,
    samples,
  };
}

/** The Markdown section of the report, with the two targets judged. */
export function renderContracts(figures: ContractFigures): string {
  const row = (what: string, s: Summary) =>
    `| ${what} | ${s.n} | ${formatMs(s.p50)} | ${formatMs(s.p99)} | ${formatMs(s.max)} |`;
  const overheadOk = Math.max(figures.overhead.zod, figures.overhead.jsonSchema) <= 0.05;
  const writesOk = figures.fsyncs.migratingLoad - figures.fsyncs.load <= figures.fsyncs.save;
  return [
    '## State contracts (issue 4)',
    '',
    'Saves of a 1 KB state through `PluginStateManager` on memory storage (CPU only), plain and with a',
    'contract; the samples of the three are interleaved. Loads on file storage: a plain load, and a load',
    'that runs one migration step and saves the result (fsyncs counted through the `fs` seam).',
    '',
    '| subject | n | p50 ms | p99 ms | max ms |',
    '|---|---|---|---|---|',
    row('save, no contract', figures.save.plain),
    row('save, zod 4 contract', figures.save.zod),
    row('save, JSON Schema contract (ajv)', figures.save.jsonSchema),
    row('file load, current version', figures.load.plain),
    row('file load with a one-step migration', figures.load.migrating),
    '',
    `fsyncs: a save ${figures.fsyncs.save}, a plain load ${figures.fsyncs.load}, a migrating load ${figures.fsyncs.migratingLoad}.`,
    '',
    '| target | measured | result |',
    '|---|---|---|',
    `| contract validation overhead on a 1 KB save ≤ 0.05 ms p50 | zod +${formatMs(figures.overhead.zod)} ms, JSON Schema +${formatMs(figures.overhead.jsonSchema)} ms | ${overheadOk ? 'met' : 'MISSED'} |`,
    `| a one-step migration adds ≤ 1 durable write to the load | ${figures.fsyncs.migratingLoad - figures.fsyncs.load} fsyncs added = ${(figures.fsyncs.migratingLoad - figures.fsyncs.load) / Math.max(1, figures.fsyncs.save)} save(s) | ${writesOk ? 'met' : 'MISSED'} |`,
    '',
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const root = join(process.cwd(), 'bench', '.data', `contracts-${Date.now()}-${process.pid}`);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  try {
    const figures = await measureContracts(root, process.argv.includes('--quick'));
    process.stdout.write(`${renderContracts(figures)}\n`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
