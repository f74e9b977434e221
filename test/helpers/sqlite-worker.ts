// A separate process for the SQLite cross-process tests.
// Run as: node --import tsx test/helpers/sqlite-worker.ts <command> [args...]
//
//   increment <db> <id> <count>   opens the store, prints "ready", waits for "go" on stdin, then does
//                                 <count> compare-and-set increments of data.count, retrying on
//                                 ConflictError (any other error fails the process);
//                                 prints {"acked","conflicts","revisions"}
//   versioned <db> <id> <version> <maxStoredVersion|-> <saves|until-refused:n>
//                                 opens the store (history 10000), prints "ready", waits for "go",
//                                 then saves {"by": <version>, "n"} at <version> (with
//                                 maxStoredVersion unless "-"), <saves> times or until refused n
//                                 times; only VersionIncompatibilityError may refuse a save; prints
//                                 {"acked": [revisions], "refused", "storedVersions": [..]}
//   serve <db>                    reads JSON commands from stdin, one a line:
//                                 {"op":"save","id","data"} | {"op":"delete","id"} | {"op":"list"};
//                                 answers each with one JSON line once the operation is acknowledged
//   hold-lock <db>                takes the database's write lock with a raw better-sqlite3
//                                 connection (BEGIN IMMEDIATE), prints "locked", and holds it until
//                                 "release" arrives on stdin; then commits and prints "released"
//   probe-import <observe|missing> <db>
//                                 watches every resolution of better-sqlite3 (and, with "missing",
//                                 makes it fail as if the package were not installed); imports the
//                                 package root, then plugin-state/sqlite (src), then opens a store;
//                                 prints what had loaded the driver at each step
//
// Every module of the library is imported dynamically, so that probe-import sees the first load.

import { writeSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { createInterface } from 'node:readline';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';

const [command, ...args] = process.argv.slice(2);
if (!command) throw new Error('usage: sqlite-worker.ts <command> [args...]');

function print(value: unknown): void {
  writeSync(1, `${typeof value === 'string' ? value : JSON.stringify(value)}\n`);
}

const input = createInterface({ input: process.stdin });
const lines = input[Symbol.asyncIterator]();

async function readLine(): Promise<string | undefined> {
  const next = await lines.next();
  return next.done ? undefined : next.value;
}

/** Resolve hooks (run on Node's loader thread) that report, and optionally refuse, better-sqlite3. */
const HOOKS = `
let port;
let missing = false;
export function initialize(data) { port = data.port; missing = data.missing; }
export async function resolve(specifier, context, next) {
  if (specifier === 'better-sqlite3' || specifier.startsWith('better-sqlite3/')) {
    port.postMessage(specifier);
    if (missing) {
      const error = new Error("Cannot find package 'better-sqlite3' imported from " + context.parentURL);
      error.code = 'ERR_MODULE_NOT_FOUND';
      throw error;
    }
  }
  if (specifier.startsWith('probe:sync')) {
    port.postMessage('probe:sync');
    return { url: 'data:text/javascript,', shortCircuit: true };
  }
  return next(specifier, context);
}
`;

async function probeImport(mode: string, db: string): Promise<void> {
  const { port1, port2 } = new MessageChannel();
  register(`data:text/javascript,${encodeURIComponent(HOOKS)}`, {
    data: { port: port2, missing: mode === 'missing' },
    transferList: [port2],
  });
  const require = createRequire(import.meta.url);
  const resolved: string[] = [];
  /** Drains the hooks' messages; a resolution of "probe:sync" marks that every earlier one arrived. */
  const drain = async () => {
    await import(`probe:sync?${Math.random()}`);
    for (;;) {
      const message = receiveMessageOnPort(port1)?.message as string | undefined;
      if (message === undefined) {
        await new Promise((done) => setTimeout(done, 5));
        continue;
      }
      if (message === 'probe:sync') return;
      resolved.push(message);
    }
  };
  const loaded = async () => {
    await drain();
    return {
      resolved: resolved.length > 0,
      required: Object.keys(require.cache).some((path) => path.includes('/node_modules/better-sqlite3/')),
    };
  };
  await import('../../src/index.js');
  const afterRoot = await loaded();
  const { SqliteStateStorage } = await import('../../src/storage/sqlite/index.js');
  const afterImport = await loaded();
  const store = new SqliteStateStorage(db);
  let openError: { name: string; code: unknown; message: string } | undefined;
  try {
    await store.open();
    await store.close();
  } catch (error) {
    const e = error as Error & { code?: unknown };
    openError = { name: e.name, code: e.code, message: e.message };
  }
  const afterOpen = await loaded();
  port1.close();
  print({ afterRoot, afterImport, afterOpen, openError });
}

async function main(): Promise<void> {
  if (command === 'probe-import') {
    await probeImport(args[0]!, args[1]!);
    input.close();
    return;
  }
  const { SqliteStateStorage } = await import('../../src/storage/sqlite/index.js');
  const [db] = args;
  switch (command) {
    case 'increment': {
      const [, id, count] = args;
      const { incrementCommand } = await import('./increment-loop.js');
      await incrementCommand(new SqliteStateStorage(db!), id!, Number(count), readLine);
      break;
    }
    case 'versioned': {
      const [, id, version, max, plan] = args;
      const { VersionIncompatibilityError } = await import('../../src/index.js');
      const store = new SqliteStateStorage(db!, { history: 10_000 });
      await store.open();
      print('ready');
      if ((await readLine()) !== 'go') throw new Error('expected "go"');
      const untilRefused = plan!.startsWith('until-refused:') ? Number(plan!.split(':')[1]) : undefined;
      const saves = untilRefused === undefined ? Number(plan) : Number.POSITIVE_INFINITY;
      const acked: number[] = [];
      const storedVersions = new Set<number>();
      let refused = 0;
      for (let n = 0; n < saves && (untilRefused === undefined || refused < untilRefused); n++) {
        try {
          const saved = await store.saveState(
            {
              pluginId: id!,
              data: { by: Number(version), n },
              lastModified: new Date(),
              version: Number(version),
            },
            max === '-' ? {} : { maxStoredVersion: Number(max) },
          );
          acked.push(saved.revision!);
        } catch (error) {
          if (!(error instanceof VersionIncompatibilityError)) throw error;
          refused++;
          storedVersions.add(error.storedVersion!);
        }
      }
      await store.close();
      print({ acked, refused, storedVersions: [...storedVersions] });
      break;
    }
    case 'serve': {
      const store = new SqliteStateStorage(db!);
      for (let line = await readLine(); line !== undefined; line = await readLine()) {
        const message = JSON.parse(line) as { op: string; id?: string; data?: never; lastModified?: number };
        if (message.op === 'save') {
          const saved = await store.saveState({
            pluginId: message.id!,
            data: message.data!,
            lastModified: new Date(message.lastModified ?? Date.now()),
          });
          print({ op: 'save', id: message.id, revision: saved.revision });
        } else if (message.op === 'delete') {
          await store.deleteState(message.id!);
          print({ op: 'delete', id: message.id });
        } else if (message.op === 'list') {
          print({ op: 'list', states: await store.listStates() });
        } else {
          throw new Error(`unknown op ${message.op}`);
        }
      }
      await store.close();
      break;
    }
    case 'hold-lock': {
      const { default: Database } = await import('better-sqlite3');
      const connection = new Database(db!);
      connection.prepare('BEGIN IMMEDIATE').run();
      print('locked');
      if ((await readLine()) !== 'release') throw new Error('expected "release"');
      connection.prepare('COMMIT').run();
      connection.close();
      print('released');
      break;
    }
    default:
      throw new Error(`unknown command ${command}`);
  }
  input.close();
}

await main();
