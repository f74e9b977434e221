// A separate process using PostgresStateStorage through its public entry, for cross-process tests.
// Run as: node --import tsx test/helpers/postgres-worker.ts <command> <url> <schema> <table> [args...]
//
//   increment <url> <schema> <table> <id> <count>
//       opens the storage, prints "ready", waits for "go" on stdin, then does <count> compare-and-set
//       increments of data.count, retrying on ConflictError; prints {"acked","conflicts","revisions"}
import { writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { ConflictError } from '../../src/index.js';
import { PostgresStateStorage } from '../../src/storage/postgres/index.js';

const [command, url, schema, table, ...args] = process.argv.slice(2);
if (!command || !url || !schema || !table) {
  throw new Error('usage: postgres-worker.ts <command> <url> <schema> <table> [args...]');
}

function print(value: unknown): void {
  writeSync(1, `${typeof value === 'string' ? value : JSON.stringify(value)}\n`);
}

const input = createInterface({ input: process.stdin });
const lines = input[Symbol.asyncIterator]();

switch (command) {
  case 'increment': {
    const [id, count] = args;
    const store = new PostgresStateStorage(url, { schema, table });
    await store.open();
    print('ready');
    if ((await lines.next()).value !== 'go') throw new Error('expected "go"');
    let acked = 0;
    let conflicts = 0;
    const revisions: number[] = [];
    while (acked < Number(count)) {
      const current = await store.loadState(id!);
      const value = (current?.data as { count?: number } | undefined)?.count ?? 0;
      try {
        const saved = await store.saveState(
          { pluginId: id!, data: { count: value + 1, by: process.pid }, lastModified: new Date() },
          { expectedRevision: current?.revision ?? 0 },
        );
        acked++;
        revisions.push(saved.revision!);
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
        conflicts++;
      }
    }
    await store.close();
    print({ acked, conflicts, revisions });
    break;
  }
  default:
    throw new Error(`unknown command ${command}`);
}
input.close();
