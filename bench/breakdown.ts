// Where the time of a 1 MB file save (and load) goes: the library's steps replayed one by one, each
// timed on its own, with the library's own functions (imported from src/, so this file follows
// their names), next to end-to-end saves and loads of the library and the raw recipe in the same
// rounds.
import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { exceedsBytes, findJsonIssues, parseStoredJson } from '../src/core/json.js';
import { DEFAULT_LIMITS, FileSystemStateStorage, type JsonValue, nodeFileSystem } from '../src/index.js';
import { ChangeJournal } from '../src/storage/file-system/change-journal.js';
import {
  decodeEnvelope,
  decodeHeader,
  encodeEnvelope,
  HEADER_READ_BYTES,
  TRAILER_BYTES,
} from '../src/storage/file-system/envelope.js';
import { makeStateData, variant } from './data.js';
import { RawRecipe } from './raw-recipe.js';

export interface Step {
  step: string;
  /** Whether the raw recipe pays this step too. */
  inRaw: boolean;
  samples: number[];
}

export interface Breakdown {
  bytes: number;
  reps: number;
  save: Step[];
  load: Step[];
  /** How many characters of the state's JSON are not ASCII. */
  nonAsciiChars: number;
  /** The CPU-bound steps on the same state, and on an ASCII-only copy of it. */
  byText: { step: string; mixed: number[]; ascii: number[] }[];
}

class Steps {
  readonly list: Step[] = [];

  time<T>(step: string, inRaw: boolean, task: () => T): T {
    const start = process.hrtime.bigint();
    const result = task();
    this.add(step, inRaw, Number(process.hrtime.bigint() - start) / 1e6);
    return result;
  }

  async timeAsync(step: string, inRaw: boolean, task: () => Promise<unknown>): Promise<void> {
    const start = process.hrtime.bigint();
    await task();
    this.add(step, inRaw, Number(process.hrtime.bigint() - start) / 1e6);
  }

  add(step: string, inRaw: boolean, ms: number): void {
    let entry = this.list.find((s) => s.step === step);
    if (!entry) {
      entry = { step, inRaw, samples: [] };
      this.list.push(entry);
    }
    entry.samples.push(ms);
  }
}

/** One save of a new state, step by step as `FileSystemStateStorage.saveState` does it. */
function replaySave(
  steps: Steps,
  dir: string,
  dirFd: number,
  journal: ChangeJournal,
  ownerFile: string,
  data: JsonValue,
): string {
  const pluginId = randomUUID();
  const path = join(dir, `${pluginId}.json`);
  steps.time('validation walk (findJsonIssues)', false, () => findJsonIssues(data, DEFAULT_LIMITS.maxDepth));
  const dataJson = steps.time('JSON.stringify(data)', true, () => JSON.stringify(data));
  steps.time('size check (exceedsBytes)', false, () => exceedsBytes(dataJson, DEFAULT_LIMITS.maxBytes));
  steps.time('lock: link of the owner file', false, () => linkSync(ownerFile, `${path}.lock`));
  steps.time('change journal: append id + stat', false, () => journal.recordIntent(pluginId));
  steps.time('read of the replaced file (new id: open → ENOENT)', false, () => {
    try {
      closeSync(openSync(path, 'r'));
    } catch (error) {
      if ((error as { code?: string }).code !== 'ENOENT') throw error;
    }
  });
  const bytes = steps.time('envelope encoded into one buffer (raw: Buffer.from)', true, () =>
    encodeEnvelope({ pluginId, version: 1, revision: 1, lastModified: new Date() }, dataJson),
  );
  const temp = `${path}.tmp-${process.pid}-bench`;
  const fd = steps.time('open temp (O_EXCL, 0600)', true, () =>
    openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600),
  );
  steps.time('write', true, () => {
    for (let offset = 0; offset < bytes.length; ) {
      offset += writeSync(fd, bytes, offset, bytes.length - offset, offset);
    }
  });
  steps.time('fsync(temp)', true, () => fsyncSync(fd));
  steps.time('close', true, () => closeSync(fd));
  steps.time('rename', true, () => renameSync(temp, path));
  steps.time('fsync(folder)', true, () => fsyncSync(dirFd));
  steps.time('lock: lstat + unlink', false, () => {
    lstatSync(`${path}.lock`);
    unlinkSync(`${path}.lock`);
  });
  return pluginId;
}

/** What a save over an existing large file reads of it first: head and tail, not the data. */
function replayHeaderRead(steps: Steps, dir: string, pluginId: string): void {
  const path = join(dir, `${pluginId}.json`);
  steps.time(
    '(update only) header read of the replaced file: open, fstat, 2 reads, close, parse',
    false,
    () => {
      const fd = openSync(path, 'r');
      try {
        const size = fstatSync(fd).size;
        const head = Buffer.allocUnsafe(HEADER_READ_BYTES);
        const tail = Buffer.allocUnsafe(TRAILER_BYTES);
        readSync(fd, head, 0, head.length, 0);
        readSync(fd, tail, 0, tail.length, size - TRAILER_BYTES);
        return decodeHeader(head, tail, pluginId);
      } finally {
        closeSync(fd);
      }
    },
  );
}

/** One load, step by step as `FileSystemStateStorage.loadState` does it. */
function replayLoad(steps: Steps, dir: string, pluginId: string): void {
  const path = join(dir, `${pluginId}.json`);
  const bytes = steps.time('readFileSync', true, () => readFileSync(path));
  steps.time('isUtf8 check', false, () => isUtf8(bytes));
  const text = steps.time('bytes.toString(utf8)', true, () => bytes.toString('utf8'));
  steps.time('parseStoredJson (JSON.parse + depth and __proto__ walk)', false, () =>
    parseStoredJson(text, DEFAULT_LIMITS),
  );
  steps.time('for comparison: JSON.parse(text) alone (raw pays this)', true, () => JSON.parse(text));
  steps.time('for comparison: decodeEnvelope(bytes) whole', false, () =>
    decodeEnvelope(bytes, pluginId, DEFAULT_LIMITS),
  );
}

/**
 * V8 keeps a string with any character past U+00FF in two bytes per character, and turning it into
 * UTF-8 (or back) leaves the fast ASCII paths: the same steps on an ASCII-only copy show how much of
 * the CPU time the text itself decides.
 */
// JSON.stringify escapes control characters, so printable ASCII is all ASCII its output can hold.
const NON_ASCII = /[^ -~]/gu;

function byTextContent(base: JsonValue, reps: number): Breakdown['byText'] {
  const ascii = JSON.parse(JSON.stringify(base).replace(NON_ASCII, '?')) as JsonValue;
  const steps: Breakdown['byText'] = [];
  const time = (step: string, mixed: () => unknown, asciiTask: () => unknown) => {
    const entry = { step, mixed: [] as number[], ascii: [] as number[] };
    for (let i = 0; i < reps; i++) {
      for (const [task, into] of [
        [mixed, entry.mixed],
        [asciiTask, entry.ascii],
      ] as const) {
        const start = process.hrtime.bigint();
        task();
        into.push(Number(process.hrtime.bigint() - start) / 1e6);
      }
    }
    steps.push(entry);
  };
  const texts = [JSON.stringify(base), JSON.stringify(ascii)] as const;
  const buffers = [Buffer.from(texts[0]), Buffer.from(texts[1])] as const;
  const parse = (text: string) => parseStoredJson(text, DEFAULT_LIMITS);
  time(
    'validation walk (findJsonIssues)',
    () => findJsonIssues(base, DEFAULT_LIMITS.maxDepth),
    () => findJsonIssues(ascii, DEFAULT_LIMITS.maxDepth),
  );
  time(
    'JSON.stringify(data)',
    () => JSON.stringify(base),
    () => JSON.stringify(ascii),
  );
  time(
    'Buffer.from(text, utf8)',
    () => Buffer.from(texts[0]),
    () => Buffer.from(texts[1]),
  );
  time(
    'bytes.toString(utf8)',
    () => buffers[0].toString('utf8'),
    () => buffers[1].toString('utf8'),
  );
  time(
    'JSON.parse(text)',
    () => JSON.parse(texts[0]),
    () => JSON.parse(texts[1]),
  );
  time(
    'parseStoredJson(text)',
    () => parse(texts[0]),
    () => parse(texts[1]),
  );
  return steps;
}

export async function breakdown(
  root: string,
  bytes: number,
  reps: number,
  warmup: number,
): Promise<Breakdown> {
  const base = makeStateData(bytes, 2);
  const stepsDir = join(root, 'breakdown-steps');
  mkdirSync(stepsDir, { recursive: true, mode: 0o700 });
  const dirFd = openSync(stepsDir, 'r');
  const journal = new ChangeJournal(nodeFileSystem, join(stepsDir, '.changes.log'));
  const ownerFile = join(stepsDir, '.owner-bench');
  writeFileSync(ownerFile, 'plugin-state-lock:bench', { mode: 0o600 });
  const storage = new FileSystemStateStorage(join(root, 'breakdown-file'));
  const raw = new RawRecipe(join(root, 'breakdown-raw'));
  const save = new Steps();
  const load = new Steps();
  try {
    for (let i = 0; i < warmup + reps; i++) {
      const into = i < warmup ? new Steps() : save;
      const from = i < warmup ? new Steps() : load;
      const data = variant(base, i);
      const id = replaySave(into, stepsDir, dirFd, journal, ownerFile, data);
      replayHeaderRead(into, stepsDir, id);
      replayLoad(from, stepsDir, id);
      const libraryId = randomUUID();
      await into.timeAsync('= library saveState (new id), end to end', false, () =>
        storage.saveState({ pluginId: libraryId, data, lastModified: new Date() }),
      );
      const rawId = randomUUID();
      into.time('= raw recipe save (new id), end to end', true, () => raw.save(rawId, data));
      await from.timeAsync('= library loadState, end to end', false, () => storage.loadState(libraryId));
      from.time('= raw recipe load, end to end', true, () => raw.load(rawId));
      // keep the folders small: one state each at a time
      unlinkSync(join(stepsDir, `${id}.json`));
      await storage.deleteState(libraryId);
      raw.delete(rawId);
    }
  } finally {
    journal.close();
    closeSync(dirFd);
    await storage.close();
    raw.close();
    for (const dir of ['breakdown-steps', 'breakdown-file', 'breakdown-raw']) {
      rmSync(join(root, dir), { recursive: true, force: true });
    }
  }
  return {
    bytes,
    reps,
    save: save.list,
    load: load.list,
    nonAsciiChars: JSON.stringify(base).match(NON_ASCII)?.length ?? 0,
    byText: byTextContent(base, reps),
  };
}
