// Read-path fuzzing (issue 6, item 8): whatever bytes are found where a state is stored, reading
// them gives a typed error or exactly the state those bytes hold — never another exception, never
// a read over 1 s (of CPU time; 10 s of wall-clock time, see MAX_READ_MS), never a change to a
// built-in prototype, never a polluted object handed back.
//
// Each case's bytes go through every reader at once: parseStoredJson, the file envelope decoders
// (decodeEnvelope, checkStoredFile, decodeHeader), the file backend (as `<id>.json`: loadState,
// listStates, listRevisions, loadRevision; and as the history file `<id>.json.~1`), and the SQLite
// backend (as a row's data column). The encryption layer gets its own properties: tampered and
// garbage envelopes, authenticated plaintext that is not valid data, and damaged encrypted files.
// What each read must return is decided by an independent reference decoder (fuzz-helpers.ts).
//
// `npm test` runs a fast form (a few thousand cases); `npm run test:fuzz` the long form
// (PLUGIN_STATE_FUZZ_RUNS=100000). Both print the cases per property and the slowest read.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { JsonDecodeError, parseStoredJson } from '../../src/core/json.js';
import { DEFAULT_LIMITS } from '../../src/core/limits.js';
import {
  FileSystemStateStorage,
  IntegrityError,
  type JsonValue,
  MemoryStateStorage,
  type PluginState,
  type PluginStateStorage,
  SerializationError,
  type StateReport,
} from '../../src/index.js';
import { additionalData, hasEnvelopeMarker, readEnvelope } from '../../src/layers/encryption/envelope.js';
import { encrypted, envelopeLimits } from '../../src/layers/encryption/index.js';
import {
  checkStoredFile,
  decodeEnvelope,
  decodeHeader,
  EnvelopeError,
  HEADER_READ_BYTES,
  TRAILER_BYTES,
} from '../../src/storage/file-system/envelope.js';
import { SqliteStateStorage } from '../../src/storage/sqlite/index.js';
import {
  type Analysis,
  analyzeBytes,
  analyzeText,
  assertCleanState,
  assertPrototypesUntouched,
  assertRead,
  assertSameState,
  assertTyped,
  dataVerdict,
  describeError,
  documentVerdict,
  ENVELOPE_FIELDS,
  type EnvelopeField,
  type ExpectedState,
  envelopeText,
  envelopeVerdict,
  FUZZ_SEED,
  FUZZ_TOTAL,
  FuzzStats,
  flipBits,
  INVALID_UTF8,
  jsonStringOfBytes,
  LONG_FORM,
  NESTING_SHAPES,
  type NestingShape,
  nestedText,
  replaceId,
  sealRaw,
  splice,
  storedFileVerdict,
  textWithMember,
  type Verdict,
  validFields,
} from './fuzz-helpers.js';

const LIMITS = DEFAULT_LIMITS;
const MiB = 1024 * 1024;
/** Files up to this size are checked in full by listRevisions; larger ones by header and end. */
const FULL_CHECK_BYTES = 16 * 1024;
const DEEP = 100_000;
const LAST_MODIFIED = new Date('2026-01-02T03:04:05.678Z');

/** Relative share of FUZZ_TOTAL per fast-check property. */
const WEIGHTS = {
  truncationLarge: 8,
  bitFlips: 14,
  byteDamage: 8,
  nul: 5,
  nesting: 3,
  proto: 14,
  utf8: 12,
  shape: 14,
  jsonWhole: 8,
  jsonData: 8,
  bigNumbers: 3,
  encTampered: 10,
  encJson: 5,
  encPlaintext: 8,
  encFile: 8,
} as const;
const WEIGHT_SUM = Object.values(WEIGHTS).reduce((sum, weight) => sum + weight, 0);

function runsOf(property: keyof typeof WEIGHTS): number {
  return Math.max(20, Math.round((FUZZ_TOTAL * WEIGHTS[property]) / WEIGHT_SUM));
}

const TEST_TIMEOUT = LONG_FORM ? 4 * 3_600_000 : 600_000;
const stats = new FuzzStats();

async function check<T>(
  property: keyof typeof WEIGHTS,
  arbitrary: fc.Arbitrary<T>,
  run: (value: T) => Promise<void>,
) {
  await fc.assert(fc.asyncProperty(arbitrary, run), {
    numRuns: runsOf(property),
    ...(FUZZ_SEED === undefined ? {} : { seed: FUZZ_SEED }),
  });
}

// ---------------------------------------------------------------------------------------------
// A case: bytes for a state file, and bytes for a data column (the data alone where there is a
// natural one; else the same bytes). Its label is what fast-check prints for a counterexample.

interface Case {
  label: string;
  file: Buffer;
  data: Buffer;
}

function caseOf(label: string, file: Buffer | string, data: Buffer | string = file): Case {
  const made = {
    label,
    file: typeof file === 'string' ? Buffer.from(file) : file,
    data: typeof data === 'string' ? Buffer.from(data) : data,
  };
  Object.defineProperty(made, fc.toStringMethod, {
    value: () => `Case(${label}; ${made.file.length} bytes)`,
  });
  return made;
}

const SMALL_DATA: JsonValue = {
  theme: 'dark',
  fontSize: 14,
  tags: ['a', 'b'],
  nested: { ok: true, none: null, ratio: -0.25 },
  text: 'héllo ✓ 𝄞',
};
const LARGE_DATA: JsonValue = {
  items: Array.from({ length: 400 }, (_, i) => ({
    id: i,
    name: `item ${i} ✓`,
    tags: ['x', 'y'],
    value: i * 1.5,
  })),
};

interface Template {
  name: 'small' | 'large';
  file: Buffer;
  data: Buffer;
}

// ---------------------------------------------------------------------------------------------
// The stores every case reads through, opened once.

interface Targets {
  /** The id the case bytes are written for (`<A>.json`, and the SQLite row). */
  A: string;
  /** A state with two revisions; its history file `~1` gets the case bytes (id rewritten). */
  H: string;
  /** A valid state beside them, which every list must still return. */
  V: string;
  small: Template;
  large: Template;
  fileDir: string;
  file: FileSystemStateStorage;
  fileReports: StateReport[];
  sibling: ExpectedState;
  sqlite: SqliteStateStorage;
  sqliteReports: StateReport[];
  raw: Database.Database;
  sqliteTextUpdate: Database.Statement;
  sqliteBlobUpdate: Database.Statement;
  sqliteRead: Database.Statement;
  caseCount: number;
  cleanup: string[];
}

let targets: Targets;

async function templateFor(
  dir: string,
  id: string,
  name: Template['name'],
  data: JsonValue,
): Promise<Template> {
  const writer = new FileSystemStateStorage(dir);
  await writer.saveState({ pluginId: id, data, lastModified: LAST_MODIFIED });
  await writer.close();
  return { name, file: readFileSync(join(dir, `${id}.json`)), data: Buffer.from(JSON.stringify(data)) };
}

async function openTargets(): Promise<Targets> {
  const root = mkdtempSync(join(tmpdir(), 'plugin-state-fuzz-'));
  const A = randomUUID();
  const H = randomUUID();
  const V = randomUUID();
  const small = await templateFor(join(root, 'template-small'), A, 'small', SMALL_DATA);
  const large = await templateFor(join(root, 'template-large'), A, 'large', LARGE_DATA);
  assert.ok(small.file.length < FULL_CHECK_BYTES && large.file.length > FULL_CHECK_BYTES, 'template sizes');

  const fileDir = join(root, 'files');
  const fileReports: StateReport[] = [];
  // Without the list cache: it trusts the change journal, which bytes written here bypass.
  const file = new FileSystemStateStorage(fileDir, {
    listCache: false,
    onReport: (r) => fileReports.push(r),
  });
  const saved = await file.saveState({ pluginId: V, data: { sibling: true }, lastModified: LAST_MODIFIED });
  await file.saveState({ pluginId: H, data: SMALL_DATA, lastModified: LAST_MODIFIED });
  await file.saveState({ pluginId: H, data: { second: true }, lastModified: LAST_MODIFIED });
  writeFresh(join(fileDir, `${A}.json`), small.file);

  const dbPath = join(root, 'states.db');
  const sqliteReports: StateReport[] = [];
  const sqlite = new SqliteStateStorage(dbPath, { onReport: (r) => sqliteReports.push(r) });
  await sqlite.saveState({ pluginId: A, data: SMALL_DATA, lastModified: LAST_MODIFIED });
  await sqlite.saveState({ pluginId: V, data: { sibling: true }, lastModified: LAST_MODIFIED });
  const raw = new Database(dbPath);
  raw.pragma('synchronous = OFF');
  return {
    A,
    H,
    V,
    small,
    large,
    fileDir,
    file,
    fileReports,
    sibling: {
      pluginId: V,
      version: 1,
      revision: saved.revision!,
      lastModified: LAST_MODIFIED,
      data: { sibling: true },
    },
    sqlite,
    sqliteReports,
    raw,
    sqliteTextUpdate: raw.prepare('UPDATE plugin_states SET data = CAST(? AS TEXT) WHERE plugin_id = ?'),
    sqliteBlobUpdate: raw.prepare('UPDATE plugin_states SET data = ? WHERE plugin_id = ?'),
    sqliteRead: raw.prepare('SELECT CAST(data AS BLOB) FROM plugin_states WHERE plugin_id = ?').pluck(),
    caseCount: 0,
    cleanup: [root],
  };
}

async function closeTargets(t: Targets): Promise<void> {
  await t.file.close();
  await t.sqlite.close();
  if (t.raw.open) t.raw.close();
  for (const dir of t.cleanup) rmSync(dir, { recursive: true, force: true });
}

/** A new file of these bytes (never written through an existing inode: history files are links). */
function writeFresh(path: string, bytes: Buffer): void {
  rmSync(path, { force: true });
  writeFileSync(path, bytes, { mode: 0o600 });
}

// ---------------------------------------------------------------------------------------------
// Every reader of stored bytes, checked against the reference.

/** Runs one case through every reader of plaintext state bytes. */
async function checkCase(c: Case): Promise<void> {
  stats.countCase();
  const a = analyzeBytes(c.file);
  const envelope = envelopeVerdict(a, targets.A, LIMITS);
  await checkFileCurrent(c, a, envelope);
  await checkFileHistory(c);
  await checkSqlite(c);
  checkDecoders(c, a, envelope);
  assertPrototypesUntouched(c.label);
}

function sameValue(what: string) {
  return (actual: unknown, expected: unknown) => assert.deepStrictEqual(actual, expected, what);
}

function checkDecoders(c: Case, a: Analysis, envelope: Verdict<ExpectedState>): void {
  const { A } = targets;
  const at = (reader: string) => `${reader} of ${c.label}`;
  const parsed = stats.timeSync(at('parseStoredJson'), () => parseStoredJson(c.file, LIMITS, 1));
  assertRead(
    at('parseStoredJson'),
    parsed,
    documentVerdict(a, LIMITS),
    [JsonDecodeError],
    sameValue(at('parseStoredJson')),
  );

  const decoded = stats.timeSync(at('decodeEnvelope'), () => decodeEnvelope(c.file, A, LIMITS));
  assertRead(at('decodeEnvelope'), decoded, envelope, [EnvelopeError], (actual, expected) =>
    assertSameState(at('decodeEnvelope'), actual, expected, LIMITS),
  );

  // checkStoredFile is the full check of a small file (up to 16 KiB; larger ones get decodeHeader).
  if (c.file.length <= FULL_CHECK_BYTES) {
    const checked = stats.timeSync(at('checkStoredFile'), () => checkStoredFile(c.file, A));
    assertRead(
      at('checkStoredFile'),
      checked,
      storedFileVerdict(a, A),
      [EnvelopeError],
      sameValue(at('checkStoredFile')),
    );
  }

  const head = c.file.subarray(0, HEADER_READ_BYTES);
  const tail = c.file.subarray(Math.max(0, c.file.length - TRAILER_BYTES));
  const header = stats.timeSync(at('decodeHeader'), () => decodeHeader(head, tail, A));
  if (header.ok) {
    // Only the header is read: the data may be anything, but the header must be a sane one.
    assertCleanState(at('decodeHeader'), { ...header.value, data: null }, LIMITS);
    assert.equal(header.value.pluginId, A, at('decodeHeader'));
  } else {
    assertTyped(at('decodeHeader'), header.error, [EnvelopeError]);
  }
}

async function checkFileCurrent(c: Case, a: Analysis, verdict: Verdict<ExpectedState>): Promise<void> {
  const { A, V, file, fileReports } = targets;
  const at = (reader: string) => `file ${reader} of ${c.label}`;
  writeFresh(join(targets.fileDir, `${A}.json`), c.file);

  const loaded = await stats.time(at('loadState'), () => file.loadState(A));
  assertRead(at('loadState'), loaded, verdict, [SerializationError], (actual, expected) =>
    assertSameState(at('loadState'), actual, expected, LIMITS),
  );

  fileReports.length = 0;
  const listed = await stats.time(at('listStates'), () => file.listStates());
  if (!listed.ok)
    assert.fail(`${at('listStates')}: threw ${describeError(listed.error)}; a corrupt file is skipped`);
  assertSameState(
    at('listStates (the valid sibling)'),
    listed.value.find((s) => s.pluginId === V),
    targets.sibling,
    LIMITS,
  );
  const mine = listed.value.find((s) => s.pluginId === A);
  if (verdict.kind === 'refuse' || (verdict.kind === 'either' && !mine)) {
    assert.equal(
      mine,
      undefined,
      `${at('listStates')}: listed a state from bytes that must be refused (${verdict.kind === 'refuse' ? verdict.reason : ''})`,
    );
    assert.ok(
      fileReports.some((r) => r.pluginId === A && r.code === 'SERIALIZATION'),
      `${at('listStates')}: the skipped file was not reported`,
    );
  } else {
    assertSameState(at('listStates'), mine, verdict.value, LIMITS);
  }

  fileReports.length = 0;
  const revisions = await stats.time(at('listRevisions'), () => file.listRevisions(A));
  if (!revisions.ok) {
    assert.fail(
      `${at('listRevisions')}: threw ${describeError(revisions.error)}; a corrupt file is skipped and reported`,
    );
  }
  for (const info of revisions.value) {
    assert.ok(Number.isSafeInteger(info.revision) && info.revision >= 1, `${at('listRevisions')}: revision`);
    assert.ok(
      info.lastModified instanceof Date && !Number.isNaN(info.lastModified.getTime()),
      at('listRevisions'),
    );
  }
  const header = storedFileVerdict(a, A);
  // A file over 16 KiB is listed by its header and its end, which must be the library's own
  // ("\n}\n"): one hand-edited otherwise has its own test (hand-edited large files, below).
  const checkedInFull = c.file.length <= FULL_CHECK_BYTES;
  const listable = checkedInFull || c.file.subarray(-TRAILER_BYTES).toString('latin1') === '\n}\n';
  if (verdict.kind === 'accept' && listable) {
    assert.deepEqual(
      revisions.value.map((r) => [r.revision, r.current]),
      [[verdict.value.revision, true]],
      `${at('listRevisions')}: the valid state file is listed`,
    );
  } else if (header.kind === 'refuse' && checkedInFull) {
    assert.deepEqual(
      revisions.value,
      [],
      `${at('listRevisions')}: listed a file that must be refused (${header.reason})`,
    );
    assert.ok(
      fileReports.some((r) => r.pluginId === A && r.code === 'SERIALIZATION'),
      `${at('listRevisions')}: not reported`,
    );
  }

  const revision = verdict.kind === 'refuse' ? 1 : verdict.value.revision;
  const kept = await stats.time(at(`loadRevision(${revision})`), () => file.loadRevision(A, revision));
  if (verdict.kind === 'refuse' && kept.ok) {
    assert.equal(
      kept.value,
      undefined,
      `${at('loadRevision')}: returned a state from bytes that must be refused (${verdict.reason})`,
    );
  } else if (kept.ok && kept.value === undefined && !listable) {
    // A large file not ending as the library writes it: see 'hand-edited large files' below.
  } else {
    assertRead(at('loadRevision'), kept, verdict, [SerializationError], (actual, expected) =>
      assertSameState(at('loadRevision'), actual, expected, LIMITS),
    );
  }
}

async function checkFileHistory(c: Case): Promise<void> {
  const { A, H, file, fileReports } = targets;
  const at = (reader: string) => `file ${reader} of history file ~1 holding ${c.label}`;
  const bytes = replaceId(c.file, A, H);
  writeFresh(join(targets.fileDir, `${H}.json.~1`), bytes);
  let verdict = envelopeVerdict(analyzeBytes(bytes), H, LIMITS);
  if (verdict.kind !== 'refuse' && verdict.value.revision !== 1) {
    verdict = { kind: 'refuse', reason: `it holds revision ${verdict.value.revision}, not 1` };
  }
  const kept = await stats.time(at('loadRevision(1)'), () => file.loadRevision(H, 1));
  assertRead(at('loadRevision(1)'), kept, verdict, [SerializationError], (actual, expected) =>
    assertSameState(at('loadRevision(1)'), actual, expected, LIMITS),
  );

  fileReports.length = 0;
  const revisions = await stats.time(at('listRevisions'), () => file.listRevisions(H));
  if (!revisions.ok) {
    assert.fail(
      `${at('listRevisions')}: threw ${describeError(revisions.error)}; a corrupt file is skipped and reported`,
    );
  }
  const listed = revisions.value.map((r) => [r.revision, r.current]);
  assert.deepEqual(listed[0], [2, true], `${at('listRevisions')}: the current revision is listed first`);
  const listable =
    bytes.length <= FULL_CHECK_BYTES || bytes.subarray(-TRAILER_BYTES).toString('latin1') === '\n}\n';
  if (verdict.kind === 'accept' && listable)
    assert.deepEqual(
      listed,
      [
        [2, true],
        [1, false],
      ],
      at('listRevisions'),
    );
}

async function checkSqlite(c: Case): Promise<void> {
  const { A, V, sqlite, sqliteReports } = targets;
  const asBlob = targets.caseCount++ % 2 === 1;
  const at = (reader: string) =>
    `SQLite ${reader} of a data column (${asBlob ? 'BLOB' : 'TEXT'}) holding ${c.label}`;
  (asBlob ? targets.sqliteBlobUpdate : targets.sqliteTextUpdate).run(c.data, A);
  const stored = (targets.sqliteRead.get(A) as Buffer | null) ?? Buffer.alloc(0);
  const verdict = dataVerdict(stored.equals(c.data) ? analyzeBytes(c.data) : analyzeBytes(stored), LIMITS);
  const sameData = (reader: string) => (actual: PluginState | undefined, expected: unknown) => {
    assert.ok(actual, `${at(reader)}: returned nothing`);
    assertCleanState(at(reader), actual, LIMITS);
    assert.equal(actual.pluginId, A);
    assert.equal(actual.revision, 1);
    assert.deepStrictEqual(
      actual.data,
      expected,
      `${at(reader)}: the data differs from what the column holds`,
    );
  };

  const loaded = await stats.time(at('loadState'), () => sqlite.loadState(A));
  assertRead(at('loadState'), loaded, verdict, [SerializationError], sameData('loadState'));

  sqliteReports.length = 0;
  const listed = await stats.time(at('listStates'), () => sqlite.listStates());
  if (!listed.ok)
    assert.fail(`${at('listStates')}: threw ${describeError(listed.error)}; a corrupt row is skipped`);
  assert.ok(
    listed.value.some((s) => s.pluginId === V),
    `${at('listStates')}: the valid sibling is listed`,
  );
  const mine = listed.value.find((s) => s.pluginId === A);
  if (verdict.kind === 'refuse' || (verdict.kind === 'either' && !mine)) {
    assert.equal(mine, undefined, `${at('listStates')}: listed a row that must be refused`);
    assert.ok(
      sqliteReports.some((r) => r.pluginId === A && r.code === 'SERIALIZATION'),
      `${at('listStates')}: not reported`,
    );
  } else {
    sameData('listStates')(mine, verdict.value);
  }

  const kept = await stats.time(at('loadRevision(1)'), () => sqlite.loadRevision(A, 1));
  assertRead(at('loadRevision(1)'), kept, verdict, [SerializationError], sameData('loadRevision(1)'));

  const revisions = await stats.time(at('listRevisions'), () => sqlite.listRevisions(A));
  if (!revisions.ok) assert.fail(`${at('listRevisions')}: threw ${describeError(revisions.error)}`);
  assert.deepEqual(
    revisions.value.map((r) => [r.revision, r.current]),
    [[1, true]],
    `${at('listRevisions')}: the row's metadata is intact`,
  );
}

// ---------------------------------------------------------------------------------------------
// Byte generators.

const templateArb = fc.constantFrom<'small' | 'large'>('small', 'large');
const templateOf = (name: 'small' | 'large') => (name === 'small' ? targets.small : targets.large);
const flipsArb = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 8 });

/** An envelope of id A holding `dataText`, in the library's layout. */
function envelopeOf(dataText: string, fields?: Array<[string, string]>): string {
  return envelopeText(fields ?? validFields(targets.A, dataText));
}

/** Text with `seq` spliced where `@@` is. */
function withBytesAt(text: string, seq: readonly number[]): Buffer {
  const bytes = Buffer.from(text);
  const at = bytes.indexOf('@@');
  return splice(bytes, at, 2, Uint8Array.from(seq));
}

const PROTO_MEMBERS: readonly string[] = [
  '"__proto__":{"polluted":1}',
  '"__proto__":{"polluted":{"deep":[1,2]},"toString":1}',
  '"__proto__":null',
  '"__proto__":[1]',
  '"__proto__":"x"',
  '"\\u005f_proto__":{"polluted":1}',
  '"__pro\\u0074o__":{"polluted":1}',
  '"constructor":{"prototype":{"polluted":1}}',
  '"constructor":{"prototype":null}',
  '"constructor":{"prototype":1}',
  '"constructor":{"\\u0070rototype":{"polluted":1}}',
  '"constructor":{"name":"x","prototype":{"toString":"x"}}',
  // Harmless look-alikes: they must be read back, not refused.
  '"constructor":1',
  '"constructor":{"name":"x"}',
  '"constructor":[{"prototype":1}]',
  '"prototype":{"polluted":1}',
  '"__proto":1',
  '"polluted":1',
  '"toString":1',
  '"hasOwnProperty":{"a":1}',
  '"valueOf":null',
];

/** Depths from 1 to 100,000, leaving out 126–132 (the limit's edge has its own test below). */
const depthArb = fc.oneof(
  fc.integer({ min: 1, max: 125 }),
  fc.integer({ min: 133, max: 2_000 }),
  fc.integer({ min: 2_001, max: DEEP }),
  fc.constant(DEEP),
);

const shapeField = (field: EnvelopeField): fc.Arbitrary<string | undefined> => {
  const common: string[] = [
    '1',
    '0',
    '-1',
    '1.5',
    '2',
    '1.0',
    '1e0',
    '10e-1',
    '-0',
    '9007199254740991',
    '9007199254740992',
  ];
  // No 1e400 here: numbers beyond the double range have their own property below.
  common.push('"1"', 'true', 'false', 'null', '[]', '{}', '[1]', '{"a":1}', '""');
  const special: Record<EnvelopeField, string[]> = {
    format: [],
    pluginId: [],
    version: [],
    revision: [],
    lastModified: [
      '"2024-13-45T00:00:00Z"',
      '"not a date"',
      '1700000000000',
      '"2024-01-01"',
      '"+275760-09-13T00:00:00.000Z"',
      '"+275760-09-13T00:00:00.001Z"',
      '"0"',
    ],
    data: [],
  };
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant('keep') },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 2, arbitrary: fc.constantFrom(...common, ...special[field]) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)) },
  );
};

function pluginIdVariants(id: string): string[] {
  return [
    JSON.stringify(id.toUpperCase()),
    JSON.stringify(randomUUID()),
    JSON.stringify(` ${id}`),
    JSON.stringify(`${id}\u0000`),
    JSON.stringify(id.slice(0, -1)),
    `"${id.replaceAll('-', '\\u002d')}"`, // the same id, escaped: must be read back
    `"${id.replace(/[a-f]/, (letter) => `\\u00${letter.charCodeAt(0).toString(16)}`)}"`,
  ];
}

// ---------------------------------------------------------------------------------------------

describe('read-path fuzzing: any stored bytes read back as a typed error or exactly their state', () => {
  before(async () => {
    targets = await openTargets();
  });
  after(async () => {
    if (targets) await closeTargets(targets);
    if (encMem) await encMem.store.close();
    if (encFile) await encFile.store.close();
    for (const dir of encCleanup) rmSync(dir, { recursive: true, force: true });
    console.log(stats.summary());
  });

  describe('plaintext state bytes: decoders, file backend (state and history files), SQLite data column', () => {
    it('a small state file cut at every offset', { timeout: TEST_TIMEOUT }, async () => {
      stats.use('truncation, small file, every offset');
      const { file, data } = targets.small;
      for (let cut = 0; cut <= file.length; cut++) {
        const c = caseOf(
          `the small file cut at ${cut} of ${file.length}`,
          file.subarray(0, cut),
          data.subarray(0, Math.min(cut, data.length)),
        );
        await checkCase(c);
        // A cut file never reads as another state: the only prefix that parses is the whole state.
        if (cut < file.length) {
          const outcome = await targets.file.loadState(targets.A).then(
            (state) => state,
            () => undefined,
          );
          if (outcome) assert.deepStrictEqual(outcome.data, SMALL_DATA, `cut at ${cut}: a different state`);
        }
      }
    });

    it('a large state file (over 16 KiB) cut at sampled offsets', { timeout: TEST_TIMEOUT }, async () => {
      stats.use('truncation, large file, sampled offsets');
      const { file, data } = targets.large;
      const offset = fc.oneof(
        fc.integer({ min: 0, max: file.length }),
        fc.integer({ min: 0, max: 700 }),
        fc.integer({ min: file.length - 700, max: file.length }),
      );
      await check('truncationLarge', offset, async (cut) => {
        await checkCase(
          caseOf(
            `the large file cut at ${cut} of ${file.length}`,
            file.subarray(0, cut),
            data.subarray(0, cut),
          ),
        );
      });
    });

    it('random bit flips', { timeout: TEST_TIMEOUT }, async () => {
      stats.use('bit flips');
      const arb = fc.record({ template: templateArb, flips: flipsArb, nearHead: fc.boolean() });
      await check('bitFlips', arb, async ({ template, flips, nearHead }) => {
        const t = templateOf(template);
        // Half of the cases flip bits in the header and first bytes, where the metadata lives.
        const placed = nearHead ? flips.map(([p, bit]) => [p % 400, bit] as const) : flips;
        await checkCase(
          caseOf(
            `the ${template} file with bits flipped at ${JSON.stringify(placed)}`,
            flipBits(t.file, placed),
            flipBits(t.data, placed),
          ),
        );
      });
    });

    it('byte ranges overwritten, inserted and removed', { timeout: TEST_TIMEOUT }, async () => {
      stats.use('byte damage');
      const arb = fc.record({
        template: templateArb,
        kind: fc.constantFrom('overwrite', 'insert', 'remove'),
        at: fc.nat(),
        length: fc.integer({ min: 1, max: 64 }),
        chunk: fc.uint8Array({ minLength: 1, maxLength: 64 }),
      });
      await check('byteDamage', arb, async ({ template, kind, at, length, chunk }) => {
        const t = templateOf(template);
        const damage = (bytes: Buffer) => {
          const where = at % (bytes.length + 1);
          if (kind === 'insert') return splice(bytes, where, 0, chunk);
          if (kind === 'remove') return splice(bytes, where, length, new Uint8Array());
          return splice(bytes, where, chunk.length, chunk);
        };
        const label = `the ${template} file with ${kind} of ${kind === 'remove' ? length : chunk.length} bytes at ${at}`;
        await checkCase(caseOf(label, damage(t.file), damage(t.data)));
      });
    });

    it('zero-byte and NUL-filled files', { timeout: TEST_TIMEOUT }, async () => {
      stats.use('NUL-filled and zero-byte files');
      const fixed = [
        caseOf('a zero-byte file', Buffer.alloc(0)),
        caseOf('one NUL byte', Buffer.alloc(1)),
        caseOf(
          'the small file, every byte NUL',
          Buffer.alloc(targets.small.file.length),
          Buffer.alloc(targets.small.data.length),
        ),
        caseOf(
          'the large file, every byte NUL',
          Buffer.alloc(targets.large.file.length),
          Buffer.alloc(targets.large.data.length),
        ),
        caseOf('1 MiB of NUL', Buffer.alloc(MiB)),
      ];
      for (const c of fixed) await checkCase(c);
      const arb = fc.oneof(
        fc.record({ kind: fc.constant('NUL file' as const), length: fc.integer({ min: 1, max: 70_000 }) }),
        fc.record({ kind: fc.constant('NUL tail' as const), template: templateArb, from: fc.nat() }),
        fc.record({
          kind: fc.constant('NUL range' as const),
          template: templateArb,
          from: fc.nat(),
          length: fc.integer({ min: 1, max: 4096 }),
        }),
        fc.record({
          kind: fc.constant('NULs appended' as const),
          template: templateArb,
          length: fc.integer({ min: 1, max: 4096 }),
        }),
        fc.record({
          kind: fc.constant('NULs prepended' as const),
          template: templateArb,
          length: fc.integer({ min: 1, max: 64 }),
        }),
      );
      await check('nul', arb, async (recipe) => {
        if (recipe.kind === 'NUL file') {
          await checkCase(caseOf(`${recipe.length} NUL bytes`, Buffer.alloc(recipe.length)));
          return;
        }
        const t = templateOf(recipe.template);
        const apply = (bytes: Buffer): Buffer => {
          switch (recipe.kind) {
            case 'NUL tail': {
              // What a power cut leaves on some file systems: the size written, the end not.
              const from = recipe.from % (bytes.length + 1);
              return Buffer.concat([bytes.subarray(0, from), Buffer.alloc(bytes.length - from)]);
            }
            case 'NUL range':
              return splice(
                bytes,
                recipe.from % (bytes.length + 1),
                recipe.length,
                Buffer.alloc(recipe.length),
              );
            case 'NULs appended':
              return Buffer.concat([bytes, Buffer.alloc(recipe.length)]);
            case 'NULs prepended':
              return Buffer.concat([Buffer.alloc(recipe.length), bytes]);
          }
        };
        await checkCase(
          caseOf(`the ${recipe.template} file with ${JSON.stringify(recipe)}`, apply(t.file), apply(t.data)),
        );
      });
    });

    describe('100,000-deep nesting is refused fast, without a stack overflow', () => {
      it('as the whole file', { timeout: TEST_TIMEOUT }, async () => {
        stats.use('100,000-deep nesting');
        for (const shape of NESTING_SHAPES) {
          await checkCase(caseOf(`${DEEP} levels of ${shape} as the whole file`, nestedText(DEEP, shape)));
        }
      });

      it('as the data of a well-formed envelope', { timeout: TEST_TIMEOUT }, async () => {
        stats.use('100,000-deep nesting');
        for (const shape of NESTING_SHAPES) {
          const deep = nestedText(DEEP, shape);
          await checkCase(caseOf(`${DEEP} levels of ${shape} as the data`, envelopeOf(deep), deep));
        }
      });

      it('as a header field (format, pluginId, version, revision, lastModified, an extra field)', {
        timeout: TEST_TIMEOUT,
      }, async () => {
        stats.use('100,000-deep nesting');
        for (const field of [...ENVELOPE_FIELDS.filter((f) => f !== 'data'), 'extra'] as const) {
          for (const shape of field === 'format' || field === 'extra'
            ? (['arrays', 'objects'] as const)
            : (['arrays'] as const)) {
            const fields: Array<[string, string]> = validFields(targets.A, '{"ok":true}');
            const deep = nestedText(DEEP, shape);
            if (field === 'extra') fields.splice(2, 0, ['extra', deep]);
            else fields.find((entry) => entry[0] === field)![1] = deep;
            await checkCase(caseOf(`${DEEP} levels of ${shape} as "${field}"`, envelopeOf('', fields)));
          }
        }
      });

      // A file up to 16 KiB is checked in full, without a depth limit, by listRevisions,
      // loadRevision, saveState and deleteState (checkStoredFile): a value nested ~8,000 levels
      // fits in it, and must still be a typed error there.
      it('as a header field of a file small enough to be checked in full (≤ 16 KiB)', {
        timeout: TEST_TIMEOUT,
      }, async () => {
        stats.use('deep header field within 16 KiB');
        for (const field of [...ENVELOPE_FIELDS.filter((f) => f !== 'data'), 'extra'] as const) {
          for (const [shape, depth] of [
            ['arrays', 8_000],
            ['objects', 2_700],
            ['mixed', 2_600],
          ] as const) {
            const fields: Array<[string, string]> = validFields(targets.A, '1');
            const deep = nestedText(depth, shape);
            if (field === 'extra') fields.splice(2, 0, ['extra', deep]);
            else fields.find((entry) => entry[0] === field)![1] = deep;
            const text = envelopeOf('', fields);
            assert.ok(text.length <= FULL_CHECK_BYTES, `test setup: ${text.length} bytes`);
            await checkCase(
              caseOf(`${depth} levels of ${shape} as "${field}" in a ${text.length}-byte file`, text),
            );
          }
        }
      });
    });

    it('nesting at random depths up to 100,000, anywhere in the file', {
      timeout: TEST_TIMEOUT,
    }, async () => {
      stats.use('nesting at random depths');
      const arb = fc.record({
        depth: depthArb,
        shape: fc.constantFrom<NestingShape>(...NESTING_SHAPES),
        placement: fc.constantFrom(
          'whole file',
          'data',
          'data member',
          ...ENVELOPE_FIELDS.filter((f) => f !== 'data'),
          'extra',
        ),
      });
      await check('nesting', arb, async ({ depth, shape, placement }) => {
        const deep = nestedText(depth, shape);
        const label = `${depth} levels of ${shape} as ${placement}`;
        if (placement === 'whole file') return checkCase(caseOf(label, deep));
        if (placement === 'data') return checkCase(caseOf(label, envelopeOf(deep), deep));
        if (placement === 'data member') {
          const data = `{"before":1,"deep":${deep},"after":[2]}`;
          return checkCase(caseOf(label, envelopeOf(data), data));
        }
        const fields: Array<[string, string]> = validFields(targets.A, '{"ok":true}');
        if (placement === 'extra') fields.splice(2, 0, ['extra', deep]);
        else fields.find((entry) => entry[0] === placement)![1] = deep;
        return checkCase(caseOf(label, envelopeOf('', fields)));
      });
    });

    it('data of exactly 10 MiB is read back; 10 MiB + 1 byte is a typed error or the state', {
      timeout: TEST_TIMEOUT,
    }, async () => {
      stats.use('10 MiB limit');
      for (const bytes of [LIMITS.maxBytes, LIMITS.maxBytes + 1]) {
        const dataText = JSON.stringify(jsonStringOfBytes(bytes));
        assert.equal(Buffer.byteLength(dataText), bytes, 'test setup');
        const c = caseOf(`data of ${bytes} bytes`, envelopeOf(dataText), dataText);
        await checkCase(c);
        if (bytes === LIMITS.maxBytes) {
          const loaded = await targets.file.loadState(targets.A);
          assert.equal(loaded?.data, JSON.parse(dataText), 'exactly 10 MiB reads back');
        }
      }
    });

    it('__proto__ and constructor.prototype payloads at any depth', { timeout: TEST_TIMEOUT }, async () => {
      stats.use('__proto__ / constructor.prototype payloads');
      const arb = fc.record({
        value: fc.jsonValue({ maxDepth: 4 }),
        member: fc.constantFrom(...PROTO_MEMBERS),
        target: fc.nat({ max: 12 }),
        position: fc.nat({ max: 12 }),
        placement: fc.constantFrom('data', 'envelope', 'whole file'),
      });
      await check('proto', arb, async ({ value, member, target, position, placement }) => {
        const text = textWithMember(value, member, target, position);
        const label = `${member} in object #${target} of ${placement}`;
        if (placement === 'data') return checkCase(caseOf(label, envelopeOf(text), text));
        if (placement === 'whole file') return checkCase(caseOf(label, text));
        const fields: Array<[string, string]> = validFields(targets.A, JSON.stringify(value));
        const [key, ...rest] = member.split(':');
        fields.splice(position % fields.length, 0, [JSON.parse(key!) as string, rest.join(':')]);
        // The key goes through JSON.stringify, so escaped spellings become plain ones here;
        // they keep their escapes in 'data' and 'whole file'.
        return checkCase(caseOf(label, envelopeOf('', fields)));
      });
    });

    it('invalid UTF-8 sequences', { timeout: TEST_TIMEOUT }, async () => {
      stats.use('invalid UTF-8');
      const hosts: Array<[string, () => [string, string]]> = [
        ['a data string', () => [envelopeOf('{"note":"be@@fore","n":1}'), '{"note":"be@@fore","n":1}']],
        ['a data key', () => [envelopeOf('{"k@@ey":1}'), '{"k@@ey":1}']],
        [
          'lastModified',
          () => {
            const fields = validFields(targets.A, '1');
            fields[4]![1] = '"2026-01-02T03:04:05.678Z@@"';
            return [envelopeOf('', fields), '"@@"'];
          },
        ],
        ['whitespace between tokens', () => [envelopeOf('[1, @@2]'), '[1, @@2]']],
        ['the start of the file', () => [`@@${envelopeOf('1')}`, '@@1']],
        ['the end of the file', () => [`${envelopeOf('1')}@@`, '1@@']],
      ];
      const arb = fc.oneof(
        fc.record({
          kind: fc.constant('host' as const),
          host: fc.nat({ max: hosts.length - 1 }),
          seq: fc.nat({ max: INVALID_UTF8.length - 1 }),
        }),
        fc.record({
          kind: fc.constantFrom('inserted' as const, 'overwriting' as const),
          template: templateArb,
          seq: fc.nat({ max: INVALID_UTF8.length - 1 }),
          at: fc.nat(),
        }),
      );
      await check('utf8', arb, async (recipe) => {
        const [name, seq] = INVALID_UTF8[recipe.seq]!;
        if (recipe.kind === 'host') {
          const [where, build] = hosts[recipe.host]!;
          const [file, data] = build();
          return checkCase(caseOf(`${name} in ${where}`, withBytesAt(file, seq), withBytesAt(data, seq)));
        }
        const t = templateOf(recipe.template);
        const apply = (bytes: Buffer) => {
          const at = recipe.at % (bytes.length + 1);
          return splice(bytes, at, recipe.kind === 'inserted' ? 0 : seq.length, Uint8Array.from(seq));
        };
        return checkCase(
          caseOf(
            `${name} ${recipe.kind} at ${recipe.at} of the ${recipe.template} file`,
            apply(t.file),
            apply(t.data),
          ),
        );
      });
    });

    it('valid JSON with a wrong envelope shape (field types, missing fields, another id inside)', {
      timeout: TEST_TIMEOUT,
    }, async () => {
      stats.use('wrong envelope shape');
      const field = (name: EnvelopeField) =>
        name === 'pluginId'
          ? fc.oneof(
              { weight: 3, arbitrary: shapeField(name) },
              { weight: 2, arbitrary: fc.constantFrom(...pluginIdVariants(targets.A)) },
            )
          : shapeField(name);
      const arb = fc.record({
        format: field('format'),
        pluginId: field('pluginId'),
        version: field('version'),
        revision: field('revision'),
        lastModified: field('lastModified'),
        data: field('data'),
        extra: fc.option(fc.tuple(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }))),
        duplicate: fc.option(fc.constantFrom(...ENVELOPE_FIELDS)),
        layout: fc.constantFrom<'library' | 'compact'>('library', 'compact'),
        shuffle: fc.nat(),
      });
      await check('shape', arb, async (recipe) => {
        const valid = validFields(targets.A, JSON.stringify(SMALL_DATA));
        let fields: Array<[string, string]> = [];
        for (const [name, text] of valid) {
          const choice = recipe[name];
          if (choice === undefined) continue;
          fields.push([name, choice === 'keep' ? text : choice]);
        }
        if (recipe.extra) fields.push([recipe.extra[0], JSON.stringify(recipe.extra[1])]);
        if (recipe.duplicate) fields.push([recipe.duplicate, '2']);
        if (recipe.shuffle % 3 === 0)
          fields = fields.map((_, i) => fields[(i + recipe.shuffle) % fields.length]!);
        const text = envelopeText(fields, recipe.layout);
        await checkCase(
          caseOf(`envelope ${JSON.stringify(fields.map(([k, v]) => `${k}=${v.slice(0, 40)}`))}`, text),
        );
      });
    });

    it('random JSON values as the whole file', { timeout: TEST_TIMEOUT }, async () => {
      stats.use('random JSON as the whole file');
      const arb = fc.record({
        value: fc.oneof(fc.jsonValue(), fc.jsonValue({ stringUnit: 'binary' })),
        pretty: fc.boolean(),
      });
      await check('jsonWhole', arb, async ({ value, pretty }) => {
        const text = JSON.stringify(value, null, pretty ? 2 : undefined);
        await checkCase(caseOf(`the JSON value ${text.slice(0, 80)}`, text));
      });
    });

    it('random JSON values as the data of a well-formed envelope are read back exactly', {
      timeout: TEST_TIMEOUT,
    }, async () => {
      stats.use('random JSON as data');
      const arb = fc.oneof(
        fc.jsonValue({ maxDepth: 8 }),
        fc.jsonValue({ stringUnit: 'binary', maxDepth: 4 }),
      );
      await check('jsonData', arb, async (value) => {
        const text = JSON.stringify(value);
        await checkCase(caseOf(`data ${text.slice(0, 80)}`, envelopeOf(text), text));
      });
    });

    it('numbers beyond the double range (1e400) are never handed back as ±Infinity', {
      timeout: TEST_TIMEOUT,
    }, async () => {
      stats.use('numbers beyond the double range');
      const literal = fc.oneof(
        fc.constantFrom(
          '1e400',
          '-1e400',
          '1E309',
          '-2e308',
          '1.7976931348623159e308',
          `1${'0'.repeat(400)}`,
          // These are finite (or round to 0) and must be read back.
          '1.7976931348623157e308',
          '1e-400',
          '4.9e-324',
          '-0',
        ),
        fc.integer({ min: 309, max: 100_000 }).map((e) => `1e${e}`),
      );
      const arb = fc.record({
        literal,
        where: fc.constantFrom('data', 'data member', 'array item', 'version', 'revision', 'format'),
      });
      await check('bigNumbers', arb, async ({ literal: text, where }) => {
        const label = `${text.slice(0, 30)} as ${where}`;
        if (where === 'data') return checkCase(caseOf(label, envelopeOf(text), text));
        if (where === 'data member')
          return checkCase(caseOf(label, envelopeOf(`{"n":${text}}`), `{"n":${text}}`));
        if (where === 'array item') return checkCase(caseOf(label, envelopeOf(`[1,${text}]`), `[1,${text}]`));
        const fields = validFields(targets.A, '1');
        fields.find((entry) => entry[0] === where)![1] = text;
        return checkCase(caseOf(label, envelopeOf('', fields)));
      });
    });

    it('data nested at, and one level past, the depth limit (128)', { timeout: TEST_TIMEOUT }, async () => {
      stats.use('depth limit edge');
      for (const depth of [126, 127, 128, 129, 130, 131, 132]) {
        for (const shape of ['arrays', 'objects'] as const) {
          const deep = nestedText(depth, shape);
          await checkCase(caseOf(`${depth} levels of ${shape} as the data`, envelopeOf(deep), deep));
        }
      }
    });
    // The README promises files "readable as it is": an editor that drops the final newline or
    // writes CRLF must not make a state that loadState reads vanish from listRevisions (and make
    // a compare-and-set save over it fail as corrupt). Files up to 16 KiB are checked in full and
    // are fine; larger ones are checked by their header and their last bytes.
    it('a large state file edited by hand reads the same through loadState and listRevisions', {
      timeout: TEST_TIMEOUT,
    }, async () => {
      stats.use('hand-edited large files');
      const text = targets.large.file.toString('utf8');
      const variants: Array<[string, string]> = [
        ['without its final newline', text.slice(0, -1)],
        ['with CRLF line endings', text.replaceAll('\n', '\r\n')],
        ['with a blank line at its end', `${text}\n`],
        ['reformatted by JSON.stringify(value, null, 2)', JSON.stringify(JSON.parse(text), null, 2)],
      ];
      for (const [what, edited] of variants) {
        await checkCase(caseOf(`the large file ${what}`, edited));
        const loaded = await targets.file.loadState(targets.A);
        assert.ok(isDeepStrictEqual(loaded?.data, LARGE_DATA), `the large file ${what}: loadState reads it`);
        const kept = await targets.file.loadRevision(targets.A, 1);
        assert.ok(
          isDeepStrictEqual(kept?.data, LARGE_DATA),
          `the large file ${what}: loadState reads it as revision 1, but loadRevision(1) returns ${kept === undefined ? 'undefined' : 'something else'}`,
        );
        const revisions = await targets.file.listRevisions(targets.A);
        assert.deepEqual(
          revisions.map((r) => [r.revision, r.current]),
          [[1, true]],
          `the large file ${what}: loadState reads revision 1, but listRevisions does not list it`,
        );
      }
    });
  });

  // -------------------------------------------------------------------------------------------
  // The encryption layer: what it reads is an envelope in the stored data.

  interface EncryptedTarget {
    inner: PluginStateStorage;
    store: ReturnType<typeof encrypted>;
    key: { id: string; key: Buffer };
    id: string;
  }
  let encMem: EncryptedTarget | undefined;
  let encFile: (EncryptedTarget & { dir: string; template: Buffer }) | undefined;
  const encCleanup: string[] = [];

  /** The envelope under the layer, and the sibling's (sealed for another plugin id). */
  let envelope0: Record<string, unknown>;
  let otherEnvelope: Record<string, unknown>;

  async function memoryTarget(): Promise<EncryptedTarget> {
    if (encMem) return encMem;
    const inner = new MemoryStateStorage({ limits: envelopeLimits() });
    const key = { id: 'k1', key: randomBytes(32) };
    const store = encrypted(inner, { key });
    const id = randomUUID();
    const other = randomUUID();
    await store.saveState({ pluginId: id, data: SMALL_DATA, lastModified: LAST_MODIFIED });
    await store.saveState({ pluginId: other, data: SMALL_DATA, lastModified: LAST_MODIFIED });
    envelope0 = (await inner.loadState(id))!.data as Record<string, unknown>;
    otherEnvelope = (await inner.loadState(other))!.data as Record<string, unknown>;
    await store.deleteState(other);
    encMem = { inner, store, key, id };
    return encMem;
  }

  /** Plants `data` as the stored record under the layer; false when the storage refuses it. */
  async function plant(t: EncryptedTarget, data: unknown, version = 1): Promise<boolean> {
    try {
      await t.inner.saveState({
        pluginId: t.id,
        data: data as JsonValue,
        lastModified: LAST_MODIFIED,
        version,
      });
      return true;
    } catch {
      return false; // not plain JSON to the storage underneath (a __proto__ key): not storable there
    }
  }

  /**
   * Reads the planted record through the layer. `verdict` says what the data must be; refusals
   * must be `allowed`, and a list must refuse the whole call with an IntegrityError.
   */
  async function checkEncrypted(
    t: EncryptedTarget,
    label: string,
    verdict: Verdict<unknown>,
    allowed: Array<typeof SerializationError | typeof IntegrityError>,
  ) {
    const at = (reader: string) => `encrypted ${reader} of ${label}`;
    const same = (reader: string) => (actual: PluginState | undefined, expected: unknown) => {
      assert.ok(actual, `${at(reader)}: returned nothing`);
      assertCleanState(at(reader), actual, LIMITS);
      assert.equal(actual.pluginId, t.id);
      assert.deepStrictEqual(actual.data, expected, `${at(reader)}: the data differs from the plaintext`);
    };
    const loaded = await stats.time(at('loadState'), () => t.store.loadState(t.id));
    assertRead(at('loadState'), loaded, verdict, allowed, same('loadState'));

    // Through a new layer over the same storage: its list cache is cold, so the list authenticates
    // what it returns (the warm cache has its own test below).
    const cold = encrypted(t.inner, { key: t.key });
    const listed = await stats.time(at('listStates'), () => cold.listStates());
    if (listed.ok) {
      const mine = listed.value.find((s) => s.pluginId === t.id);
      if (verdict.kind === 'refuse')
        assert.fail(`${at('listStates')}: listed around a record that must be refused`);
      if (verdict.kind === 'accept' || mine) same('listStates')(mine, verdict.value);
    } else {
      assertTyped(at('listStates'), listed.error, [IntegrityError]);
      if (verdict.kind === 'accept')
        assert.fail(`${at('listStates')}: refused a valid record: ${describeError(listed.error)}`);
    }

    const current = (await t.inner.loadState(t.id))?.revision ?? 1;
    const kept = await stats.time(at('loadRevision'), () => t.store.loadRevision(t.id, current));
    assertRead(at('loadRevision'), kept, verdict, allowed, same('loadRevision'));

    const revisions = await stats.time(at('listRevisions'), () => t.store.listRevisions(t.id));
    if (!revisions.ok)
      assertTyped(at('listRevisions'), revisions.error, [IntegrityError, SerializationError]);
    assertPrototypesUntouched(label);
  }

  /** What authenticated plaintext bytes must decrypt to (invalid UTF-8: see the test below). */
  function plaintextVerdict(plaintext: Buffer, strictUtf8: boolean): Verdict<unknown> {
    const a = analyzeBytes(plaintext);
    if (a.utf8 || strictUtf8) return dataVerdict(a, LIMITS);
    const replaced = dataVerdict(analyzeText(plaintext.toString('utf8')), LIMITS);
    return replaced.kind === 'refuse'
      ? replaced
      : { kind: 'either', value: replaced.value, reason: 'invalid UTF-8 (replaced, see the strict test)' };
  }

  async function checkPlaintext(t: EncryptedTarget, label: string, plaintext: Buffer, strictUtf8 = false) {
    stats.countCase();
    const sealed = sealRaw(t.key.key, t.key.id, additionalData(t.id, t.key.id, 1), plaintext);
    assert.ok(await plant(t, sealed), 'an envelope is plain JSON');
    // An empty plaintext has an empty ciphertext, which no envelope holds: not an envelope.
    const allowed = plaintext.length === 0 ? [IntegrityError] : [SerializationError];
    await checkEncrypted(
      t,
      `authenticated plaintext: ${label}`,
      plaintextVerdict(plaintext, strictUtf8),
      allowed,
    );
  }

  describe('encryption layer envelopes', () => {
    it('tampered envelopes are an IntegrityError', { timeout: TEST_TIMEOUT }, async () => {
      stats.use('encryption: tampered envelopes');
      const t = await memoryTarget();
      const base64Field = fc.constantFrom('iv', 'tag', 'ct');
      const arb = fc.oneof(
        fc.record({ kind: fc.constant('flip' as const), field: base64Field, flips: flipsArb }),
        fc.record({
          kind: fc.constant('cut' as const),
          field: fc.constantFrom('iv', 'tag', 'ct', 'kid'),
          at: fc.nat(),
        }),
        fc.record({
          kind: fc.constant('replace' as const),
          field: fc.constantFrom('plugin-state:encrypted', 'kid', 'iv', 'tag', 'ct'),
          value: fc.jsonValue({ maxDepth: 2 }),
        }),
        fc.record({
          kind: fc.constant('drop' as const),
          field: fc.constantFrom('plugin-state:encrypted', 'kid', 'iv', 'tag', 'ct'),
        }),
        fc.record({
          kind: fc.constant('extra' as const),
          key: fc.string({ maxLength: 6 }),
          value: fc.jsonValue({ maxDepth: 1 }),
        }),
        fc.record({
          kind: fc.constant('text' as const),
          field: base64Field,
          edit: fc.constantFrom(
            'url-safe',
            'whitespace',
            'padding bits',
            'no padding',
            'lower-case',
            'inner =',
          ),
        }),
        fc.record({
          kind: fc.constant('format' as const),
          value: fc.constantFrom(0, 2, '1', 1.5, true, null),
        }),
        fc.record({
          kind: fc.constant('kid' as const),
          value: fc.constantFrom('k2', '', 'K1', 'k1 ', 'k1\u0000', 'x'.repeat(300)),
        }),
        fc.record({ kind: fc.constant('version' as const), version: fc.integer({ min: 2, max: 1000 }) }),
        fc.constant({ kind: 'another plugin’s envelope' as const }),
        fc.constant({ kind: 'unchanged' as const }),
      );
      await check('encTampered', arb, async (recipe) => {
        const envelope: Record<string, unknown> = { ...envelope0 };
        let version = 1;
        switch (recipe.kind) {
          case 'flip':
            envelope[recipe.field] = flipBits(
              Buffer.from(envelope0[recipe.field] as string, 'base64'),
              recipe.flips,
            ).toString('base64');
            break;
          case 'cut': {
            const text = envelope0[recipe.field] as string;
            envelope[recipe.field] = text.slice(0, recipe.at % text.length);
            break;
          }
          case 'replace':
            envelope[recipe.field] = recipe.value;
            break;
          case 'drop':
            delete envelope[recipe.field];
            break;
          case 'extra':
            envelope[recipe.key] = recipe.value;
            break;
          case 'text': {
            const text = envelope0[recipe.field] as string;
            const edits: Record<typeof recipe.edit, string> = {
              'url-safe': text.replaceAll('+', '-').replaceAll('/', '_').replace(/^./, '-'),
              whitespace: `${text.slice(0, 4)} ${text.slice(4)}`,
              'padding bits': text.endsWith('=')
                ? text.replace(
                    /.(=+)$/,
                    (all, pad: string) => `${String.fromCharCode(all.charCodeAt(0) ^ 1)}${pad}`,
                  )
                : `${text}=`,
              'no padding': text.replace(/=+$/, '') || `${text}A`,
              'lower-case': text.toLowerCase() === text ? text.toUpperCase() : text.toLowerCase(),
              'inner =': `${text.slice(0, 4)}====${text.slice(4)}`,
            };
            envelope[recipe.field] = edits[recipe.edit];
            break;
          }
          case 'format':
            envelope['plugin-state:encrypted'] = recipe.value;
            break;
          case 'kid':
            envelope.kid = recipe.value;
            break;
          case 'version':
            version = recipe.version;
            break;
          case 'another plugin’s envelope':
            Object.assign(envelope, otherEnvelope);
            break;
          case 'unchanged':
            break;
        }
        // A direct look at the envelope reader first: it never throws, whatever the data.
        const parts = readEnvelope(envelope);
        assert.ok(
          typeof parts === 'string' || Buffer.isBuffer(parts.ct),
          'readEnvelope returns parts or a reason',
        );
        fc.pre(await plant(t, envelope, version));
        stats.countCase();
        const unchanged = version === 1 && JSON.stringify(envelope) === JSON.stringify(envelope0);
        const verdict: Verdict<unknown> = unchanged
          ? { kind: 'accept', value: SMALL_DATA }
          : { kind: 'refuse', reason: 'tampered' };
        await checkEncrypted(t, `envelope ${JSON.stringify(recipe).slice(0, 120)}`, verdict, [
          IntegrityError,
        ]);
      });
    });

    it('random JSON values as the stored data are an IntegrityError', { timeout: TEST_TIMEOUT }, async () => {
      stats.use('encryption: random JSON as data');
      const t = await memoryTarget();
      const arb = fc.oneof(
        fc.jsonValue(),
        fc.dictionary(
          fc.constantFrom('plugin-state:encrypted', 'kid', 'iv', 'tag', 'ct', 'x'),
          fc.jsonValue({ maxDepth: 1 }),
        ),
      );
      await check('encJson', arb, async (value) => {
        assert.doesNotThrow(() => hasEnvelopeMarker(value));
        assert.equal(typeof readEnvelope(value), 'string', 'random data is not an envelope');
        fc.pre(await plant(t, value));
        stats.countCase();
        await checkEncrypted(
          t,
          `data ${JSON.stringify(value).slice(0, 80)}`,
          { kind: 'refuse', reason: 'not an envelope' },
          [IntegrityError],
        );
      });
    });

    it('authenticated plaintext that is not valid data is a SerializationError', {
      timeout: TEST_TIMEOUT,
    }, async () => {
      stats.use('encryption: authenticated bad plaintext');
      const t = await memoryTarget();
      const plain = Buffer.from(JSON.stringify(SMALL_DATA));
      const arb = fc.oneof(
        fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
        fc.record({ kind: fc.constant('flips' as const), flips: flipsArb }),
        fc.record({
          kind: fc.constant('nesting' as const),
          depth: depthArb,
          shape: fc.constantFrom<NestingShape>(...NESTING_SHAPES),
        }),
        fc.record({
          kind: fc.constant('payload' as const),
          value: fc.jsonValue({ maxDepth: 3 }),
          member: fc.constantFrom(...PROTO_MEMBERS),
          target: fc.nat({ max: 8 }),
          position: fc.nat({ max: 8 }),
        }),
        fc.record({
          kind: fc.constant('utf8' as const),
          seq: fc.nat({ max: INVALID_UTF8.length - 1 }),
          at: fc.nat(),
        }),
        fc.record({ kind: fc.constant('json' as const), value: fc.jsonValue() }),
        fc.record({ kind: fc.constant('bytes' as const), bytes: fc.uint8Array({ maxLength: 64 }) }),
        fc.record({ kind: fc.constant('NUL' as const), length: fc.integer({ min: 0, max: 1024 }) }),
      );
      await check('encPlaintext', arb, async (recipe) => {
        let bytes: Buffer;
        switch (recipe.kind) {
          case 'cut':
            bytes = plain.subarray(0, recipe.at % (plain.length + 1));
            break;
          case 'flips':
            bytes = flipBits(plain, recipe.flips);
            break;
          case 'nesting':
            bytes = Buffer.from(nestedText(recipe.depth, recipe.shape));
            break;
          case 'payload':
            bytes = Buffer.from(textWithMember(recipe.value, recipe.member, recipe.target, recipe.position));
            break;
          case 'utf8':
            bytes = splice(
              plain,
              recipe.at % (plain.length + 1),
              0,
              Uint8Array.from(INVALID_UTF8[recipe.seq]![1]),
            );
            break;
          case 'json':
            bytes = Buffer.from(JSON.stringify(recipe.value));
            break;
          case 'bytes':
            bytes = Buffer.from(recipe.bytes);
            break;
          case 'NUL':
            bytes = Buffer.alloc(recipe.length);
            break;
        }
        await checkPlaintext(t, JSON.stringify(recipe).slice(0, 120), bytes);
      });
    });

    it('authenticated plaintext that is not UTF-8 is refused, never read with replacement characters', {
      timeout: TEST_TIMEOUT,
    }, async () => {
      stats.use('encryption: authenticated invalid UTF-8');
      const t = await memoryTarget();
      for (const [name, seq] of INVALID_UTF8) {
        await checkPlaintext(t, `${name} in a string`, withBytesAt('{"note":"ab@@cd"}', seq), true);
      }
    });

    it('100,000-deep, 10 MiB and 10 MiB + 1 plaintexts', { timeout: TEST_TIMEOUT }, async () => {
      stats.use('encryption: deep and large plaintext');
      const t = await memoryTarget();
      for (const shape of NESTING_SHAPES)
        await checkPlaintext(t, `${DEEP} levels of ${shape}`, Buffer.from(nestedText(DEEP, shape)));
      for (const bytes of [LIMITS.maxBytes, LIMITS.maxBytes + 1]) {
        await checkPlaintext(
          t,
          `data of ${bytes} bytes`,
          Buffer.from(JSON.stringify(jsonStringOfBytes(bytes))),
        );
      }
    });

    it('authenticated plaintext nested at, and one level past, the depth limit (128)', {
      timeout: TEST_TIMEOUT,
    }, async () => {
      stats.use('encryption: depth limit edge');
      const t = await memoryTarget();
      for (const depth of [127, 128, 129, 130]) {
        for (const shape of ['arrays', 'objects'] as const) {
          await checkPlaintext(t, `${depth} levels of ${shape}`, Buffer.from(nestedText(depth, shape)));
        }
      }
    });

    // What listStates keeps of what it decrypted must not let a record through that loadState refuses.
    it('an envelope tampered after a list cached it is still refused by listStates', {
      timeout: TEST_TIMEOUT,
    }, async () => {
      stats.use('encryption: tampered after a cached list');
      const t = await memoryTarget();
      const tamperings: Array<[string, (envelope: Record<string, unknown>) => void]> = [
        ['the format marker removed', (e) => delete e['plugin-state:encrypted']],
        ['format 2', (e) => (e['plugin-state:encrypted'] = 2)],
        ['format "1"', (e) => (e['plugin-state:encrypted'] = '1')],
        ['an extra field', (e) => (e.extra = 'x')],
        ['an extra empty-named field', (e) => (e[''] = '')],
      ];
      for (const [what, tamper] of tamperings) {
        stats.countCase();
        assert.ok(await plant(t, envelope0));
        const warm = await stats.time(`listStates before: ${what}`, () => t.store.listStates());
        assert.ok(warm.ok, 'the untouched record lists');
        const envelope = { ...envelope0 };
        tamper(envelope);
        assert.ok(await plant(t, envelope));
        const loaded = await stats.time(`loadState: ${what}`, () => t.store.loadState(t.id));
        assert.ok(!loaded.ok, `loadState of an envelope with ${what}: refused`);
        assertTyped(`loadState: ${what}`, loaded.error, [IntegrityError]);
        const listed = await stats.time(`listStates: ${what}`, () => t.store.listStates());
        assert.ok(
          !listed.ok,
          `listStates after a list cached the record returned it although its envelope has ${what}, which loadState refuses`,
        );
        assertTyped(`listStates: ${what}`, listed.error, [IntegrityError]);
      }
    });

    async function fileTarget(): Promise<NonNullable<typeof encFile>> {
      if (encFile) return encFile;
      const dir = mkdtempSync(join(tmpdir(), 'plugin-state-fuzz-enc-'));
      encCleanup.push(dir);
      const inner = new FileSystemStateStorage(join(dir, 'states'), {
        limits: envelopeLimits(),
        listCache: false,
      });
      const key = { id: 'k1', key: randomBytes(32) };
      const store = encrypted(inner, { key });
      const id = randomUUID();
      await store.saveState({ pluginId: id, data: SMALL_DATA, lastModified: LAST_MODIFIED });
      const template = readFileSync(join(dir, 'states', `${id}.json`));
      encFile = { inner, store, key, id, dir: join(dir, 'states'), template };
      return encFile;
    }

    /**
     * Damaged bytes of an encrypted state file: a typed error (the file's or the envelope's), or
     * the very data that was saved. The revision and lastModified are not authenticated (they
     * stay in clear for compare-and-set), so a changed digit there may read back.
     */
    async function checkEncryptedFile(label: string, bytes: Buffer) {
      const t = await fileTarget();
      stats.countCase();
      writeFresh(join(t.dir, `${t.id}.json`), bytes);
      const at = (reader: string) => `encrypted file ${reader} of ${label}`;
      const allowed = [SerializationError, IntegrityError];
      const sameData = (reader: string, state: PluginState | undefined) => {
        if (state === undefined) return;
        assertCleanState(at(reader), state, LIMITS);
        assert.equal(state.pluginId, t.id);
        assert.equal(state.version, 1, `${at(reader)}: the version is authenticated`);
        assert.deepStrictEqual(state.data, SMALL_DATA, `${at(reader)}: data that was never saved`);
      };
      const loaded = await stats.time(at('loadState'), () => t.store.loadState(t.id));
      if (loaded.ok) sameData('loadState', loaded.value);
      else assertTyped(at('loadState'), loaded.error, allowed);
      const listed = await stats.time(at('listStates'), () => t.store.listStates());
      if (listed.ok)
        sameData(
          'listStates',
          listed.value.find((s) => s.pluginId === t.id),
        );
      else assertTyped(at('listStates'), listed.error, [IntegrityError]);
      const revisions = await stats.time(at('listRevisions'), () => t.store.listRevisions(t.id));
      if (!revisions.ok) assertTyped(at('listRevisions'), revisions.error, allowed);
      const kept = await stats.time(at('loadRevision(1)'), () => t.store.loadRevision(t.id, 1));
      if (kept.ok) sameData('loadRevision(1)', kept.value);
      else assertTyped(at('loadRevision(1)'), kept.error, allowed);
      assertPrototypesUntouched(label);
    }

    it('an encrypted state file cut at every offset', { timeout: TEST_TIMEOUT }, async () => {
      stats.use('encryption: file cut at every offset');
      const { template } = await fileTarget();
      for (let cut = 0; cut < template.length; cut++) {
        await checkEncryptedFile(`the file cut at ${cut} of ${template.length}`, template.subarray(0, cut));
      }
    });

    it('damaged bytes of an encrypted state file', { timeout: TEST_TIMEOUT }, async () => {
      stats.use('encryption: damaged files');
      const { template } = await fileTarget();
      const arb = fc.oneof(
        fc.record({ kind: fc.constant('flips' as const), flips: flipsArb }),
        fc.record({
          kind: fc.constant('overwrite' as const),
          at: fc.nat(),
          chunk: fc.uint8Array({ minLength: 1, maxLength: 32 }),
        }),
        fc.record({ kind: fc.constant('NUL tail' as const), from: fc.nat() }),
        fc.record({
          kind: fc.constant('utf8' as const),
          seq: fc.nat({ max: INVALID_UTF8.length - 1 }),
          at: fc.nat(),
        }),
        fc.record({ kind: fc.constant('json' as const), value: fc.jsonValue() }),
      );
      await check('encFile', arb, async (recipe) => {
        let bytes: Buffer;
        switch (recipe.kind) {
          case 'flips':
            bytes = flipBits(template, recipe.flips);
            break;
          case 'overwrite':
            bytes = splice(template, recipe.at % template.length, recipe.chunk.length, recipe.chunk);
            break;
          case 'NUL tail': {
            const from = recipe.from % template.length;
            bytes = Buffer.concat([template.subarray(0, from), Buffer.alloc(template.length - from)]);
            break;
          }
          case 'utf8':
            bytes = splice(
              template,
              recipe.at % template.length,
              0,
              Uint8Array.from(INVALID_UTF8[recipe.seq]![1]),
            );
            break;
          case 'json':
            bytes = Buffer.from(JSON.stringify(recipe.value));
            break;
        }
        await checkEncryptedFile(JSON.stringify(recipe).slice(0, 120), bytes);
      });
    });
  });
});
