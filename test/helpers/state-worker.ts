// A separate process that uses the file backend through the public API, for cross-process tests.
// Run as: node --import tsx test/helpers/state-worker.ts <command> <dir> [args...]
//
//   save <dir> <id> <json>         saves once; prints {"revision"}
//   increment <dir> <id> <count>   prints "ready", waits for "go" on stdin, then does <count>
//                                  compare-and-set increments of data.count, retrying on
//                                  ConflictError; prints {"acked","conflicts","revisions"}
//   serve <dir>                    reads JSON commands from stdin, one a line:
//                                  {"op":"save","id","data"} | {"op":"delete","id"} | {"op":"churn",...};
//                                  answers each with one JSON line once the operation is acknowledged
//   hang-in-save <dir> <id>        starts a save and blocks forever inside it, holding the state's
//                                  lock with its temp file written; prints "hanging" first
//   save-loop <dir> <id>           saves forever, printing each acknowledged revision
//   save-many <dir> <id> <count>   saves <count> times, then prints {"revision"} of the last
//
// WORKER_UMASK=<octal> in the environment sets the process umask first (e.g. 0 for umask 000).
import { createInterface } from 'node:readline';
import {
  type FileSystemApi,
  FileSystemStateStorage,
  type JsonValue,
  nodeFileSystem,
} from '../../src/index.js';
import { incrementCommand, print } from './increment-loop.js';

if (process.env.WORKER_UMASK !== undefined) process.umask(Number.parseInt(process.env.WORKER_UMASK, 8));

const [command, dir, ...args] = process.argv.slice(2);
if (!command || !dir) throw new Error('usage: state-worker.ts <command> <dir> [args...]');

const input = createInterface({ input: process.stdin });
const lines = input[Symbol.asyncIterator]();

async function readLine(): Promise<string | undefined> {
  const next = await lines.next();
  return next.done ? undefined : next.value;
}

/** A small deterministic generator, so a churn run can be repeated. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

async function main(): Promise<void> {
  switch (command) {
    case 'save': {
      const [id, json] = args;
      const store = new FileSystemStateStorage(dir!);
      const saved = await store.saveState({
        pluginId: id!,
        data: JSON.parse(json!),
        lastModified: new Date(),
      });
      await store.close();
      print({ revision: saved.revision, umask: process.umask() });
      break;
    }
    case 'increment': {
      const [id, count] = args;
      await incrementCommand(new FileSystemStateStorage(dir!), id!, Number(count), readLine);
      break;
    }
    case 'serve': {
      const store = new FileSystemStateStorage(dir!);
      for (let line = await readLine(); line !== undefined; line = await readLine()) {
        const message = JSON.parse(line) as {
          op: string;
          id?: string;
          data?: JsonValue;
          ids?: string[];
          seed?: number;
          count?: number;
        };
        if (message.op === 'save') {
          const saved = await store.saveState({
            pluginId: message.id!,
            data: message.data!,
            lastModified: new Date(),
          });
          print({ op: 'save', id: message.id, revision: saved.revision });
        } else if (message.op === 'delete') {
          await store.deleteState(message.id!);
          print({ op: 'delete', id: message.id });
        } else if (message.op === 'churn') {
          // Many saves and deletes over a set of ids, as fast as the disk allows.
          const next = random(message.seed!);
          const ids = message.ids!;
          for (let i = 0; i < message.count!; i++) {
            const id = ids[Math.floor(next() * ids.length)]!;
            if (next() < 0.3) await store.deleteState(id);
            else
              await store.saveState({
                pluginId: id,
                data: { i, pid: process.pid },
                lastModified: new Date(),
              });
          }
          print({ op: 'churn', done: message.count });
        } else {
          throw new Error(`unknown op ${message.op}`);
        }
      }
      await store.close();
      break;
    }
    case 'hang-in-save': {
      const [id] = args;
      const temps = new Set<number>();
      const fs: FileSystemApi = {
        ...nodeFileSystem,
        openSync: ((path, flags, mode) => {
          const fd = nodeFileSystem.openSync(path, flags, mode);
          if (String(path).includes('.tmp-')) temps.add(fd);
          return fd;
        }) as FileSystemApi['openSync'],
        fsyncSync: (fd) => {
          if (temps.has(fd)) {
            // The lock is held and the temp file written: stop here, as a process killed mid-save.
            print('hanging');
            Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
          }
          nodeFileSystem.fsyncSync(fd);
        },
      };
      const store = new FileSystemStateStorage(dir!, { fs });
      await store.saveState({ pluginId: id!, data: { from: 'hung child' }, lastModified: new Date() });
      throw new Error('the save was expected to hang');
    }
    case 'save-loop': {
      const [id] = args;
      const store = new FileSystemStateStorage(dir!);
      for (let i = 0; ; i++) {
        const saved = await store.saveState({
          pluginId: id!,
          data: { i, filler: 'x'.repeat(4096) },
          lastModified: new Date(),
        });
        print({ revision: saved.revision });
      }
    }
    case 'save-many': {
      const [id, count] = args;
      const store = new FileSystemStateStorage(dir!);
      let revision = 0;
      for (let i = 0; i < Number(count); i++) {
        revision = (await store.saveState({ pluginId: id!, data: { i }, lastModified: new Date() }))
          .revision!;
      }
      await store.close();
      print({ revision });
      break;
    }
    default:
      throw new Error(`unknown command ${command}`);
  }
  input.close();
}

await main();
