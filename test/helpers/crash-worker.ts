// The child of the crash test (test/reliability/crash.test.ts): saves and deletes states as fast as
// the storage allows, forever, until the parent kills it with SIGKILL.
// Run as: node --import tsx test/helpers/crash-worker.ts <url> <seed> <seqBase> <id,id,...>
//
// Prints "ready" once its modules are loaded (SQLite's too, for a sqlite: URL) and waits for "go" on stdin; then opens the store
// with openStorage(<url>) (recovering what the last killed child left), reads each id's current
// revision with listRevisions, prints {"started":true,"revisions":{<id>: <revision>|null},"ms"} and
// runs two lanes at once, each on its own half of the ids (so no id ever has two operations in
// flight). Every operation prints one line before it starts and one once its promise resolved:
//
//   {"intent":"save","id","seq","hash","bytes","expected"}   expected: the expectedRevision passed, or null
//   {"id","revision","seq","hash","ms"}                       the save was acknowledged
//   {"intent":"delete","id"}
//   {"id","deleted":true,"revision-before"}                   the delete was acknowledged (revision-before: null if nothing was stored)
//
// `seq` is <seqBase> + a counter, so unique across a run; the data of a save is crashData(id, seq,
// bytes) (see crash-data.ts), which carries its own hash. Lines are written with one synchronous
// write(2) each, shorter than PIPE_BUF: a line is in the pipe before the next operation starts.
// It opens the store with openStorage (src/storage/open.ts, exported by src/index.ts).
// Any failure (a ConflictError would mean the store lost track of a revision) prints
// {"error":{"name","code","message","op"}} and exits with code 2. The child exits by itself when
// its stdin closes (the parent is gone) and after 60 s, so it never outlives a broken test.
import { writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
// openStorage as src/index.ts exports it, from its own module: a child loads only the storages
// (a third less to load per kill), and the rest of the library is no part of this test.
import type { PluginStateStorage } from '../../src/core/storage.js';
import { openStorage } from '../../src/storage/open.js';
import { crashData, pickBytes, random } from '../reliability/crash-data.js';

/** One line, one synchronous write(2): out before the next operation starts, or (if killed) not at all. */
function print(value: unknown): void {
  writeSync(1, `${typeof value === 'string' ? value : JSON.stringify(value)}\n`);
}

const [url, seedText, seqBaseText, idList] = process.argv.slice(2);
if (!url || !seedText || !seqBaseText || !idList) {
  throw new Error('usage: crash-worker.ts <url> <seed> <seqBase> <id,id,...>');
}
const seed = Number(seedText);
const ids = idList.split(',');
let nextSeq = Number(seqBaseText);

/** Share of operations that are deletes; of the saves, half pass expectedRevision. */
const DELETES = 0.08;
const LANES = 2;

function fail(error: unknown, op: string): never {
  const e = error as Error & { code?: unknown };
  print({ error: { name: e?.name, code: e?.code, message: String(e?.message ?? e), op } });
  process.exit(2);
}

async function lane(
  store: PluginStateStorage,
  mine: string[],
  next: () => number,
  revisions: Map<string, number>,
): Promise<void> {
  let op = 'start';
  try {
    for (;;) await operation(store, mine, next, revisions, (what) => (op = what));
  } catch (error) {
    fail(error, op);
  }
}

/** One save or delete of one of `mine`, announced before and acknowledged after. */
async function operation(
  store: PluginStateStorage,
  mine: string[],
  next: () => number,
  revisions: Map<string, number>,
  doing: (op: string) => void,
): Promise<void> {
  const id = mine[Math.floor(next() * mine.length)]!;
  if (next() < DELETES) {
    const before = revisions.get(id) ?? null;
    doing(`delete ${id}`);
    print({ intent: 'delete', id });
    await store.deleteState(id);
    revisions.delete(id);
    print({ id, deleted: true, 'revision-before': before });
    return;
  }
  const bytes = pickBytes(next);
  const seq = nextSeq++;
  const data = crashData(id, seq, bytes);
  const expected = next() < 0.5 ? (revisions.get(id) ?? 0) : undefined;
  doing(`save ${id} seq ${seq}`);
  print({ intent: 'save', id, seq, hash: data.hash, bytes, expected: expected ?? null });
  const started = performance.now();
  const saved = await store.saveState(
    { pluginId: id, data, lastModified: new Date() },
    expected === undefined ? {} : { expectedRevision: expected },
  );
  revisions.set(id, saved.revision!);
  print({ id, revision: saved.revision, seq, hash: data.hash, ms: Math.round(performance.now() - started) });
}

async function main(): Promise<void> {
  const input = createInterface({ input: process.stdin });
  const lines = input[Symbol.asyncIterator]();
  if (url!.startsWith('sqlite:')) {
    // Loaded now, while the parent still checks the last child's work, rather than after "go".
    await import('../../src/storage/sqlite/index.js');
    await import('better-sqlite3');
  }
  print('ready');
  const go = await lines.next();
  if (go.done || go.value !== 'go') throw new Error(`expected "go", got ${JSON.stringify(go.value)}`);
  // The parent is gone (or gave up on us): stop rather than save forever.
  input.on('close', () => process.exit(0));
  setTimeout(() => process.exit(3), 60_000).unref();

  const started = performance.now();
  let op = `openStorage ${url}`;
  const revisions = new Map<string, number>();
  let store: PluginStateStorage;
  try {
    store = await openStorage(url!);
    for (const id of ids) {
      op = `listRevisions ${id}`;
      const top = (await store.listRevisions!(id)).find((info) => info.current);
      if (top) revisions.set(id, top.revision);
    }
  } catch (error) {
    fail(error, op);
  }
  print({
    started: true,
    revisions: Object.fromEntries(ids.map((id) => [id, revisions.get(id) ?? null])),
    ms: Math.round(performance.now() - started),
  });
  const next = random(seed);
  await Promise.all(
    Array.from({ length: LANES }, (_, n) =>
      lane(
        store,
        ids.filter((_, i) => i % LANES === n),
        random(Math.floor(next() * 2 ** 32)),
        revisions,
      ),
    ),
  );
}

main().catch((error) => fail(error, 'main'));
