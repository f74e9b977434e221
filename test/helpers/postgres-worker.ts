// A separate process using PostgresStateStorage through its public entry, for cross-process tests.
// Run as: node --import tsx test/helpers/postgres-worker.ts <command> <url> <schema> <table> [args...]
//
//   increment <url> <schema> <table> <id> <count>
//       opens the storage, prints "ready", waits for "go" on stdin, then does <count> compare-and-set
//       increments of data.count, retrying on ConflictError; prints {"acked","conflicts","revisions"}
import { createInterface } from 'node:readline';
import { PostgresStateStorage } from '../../src/storage/postgres/index.js';
import { incrementCommand } from './increment-loop.js';

const [command, url, schema, table, ...args] = process.argv.slice(2);
if (!command || !url || !schema || !table) {
  throw new Error('usage: postgres-worker.ts <command> <url> <schema> <table> [args...]');
}

const input = createInterface({ input: process.stdin });
const lines = input[Symbol.asyncIterator]();

switch (command) {
  case 'increment': {
    const [id, count] = args;
    const store = new PostgresStateStorage(url, { schema, table });
    await incrementCommand(store, id!, Number(count), async () => (await lines.next()).value);
    break;
  }
  default:
    throw new Error(`unknown command ${command}`);
}
input.close();
