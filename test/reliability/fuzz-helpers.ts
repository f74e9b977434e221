// What the read-path fuzz tests share: an independent reference decoder that says what any bytes
// must read back as, checks that a returned state is clean, a guard on the built-in prototypes,
// timing of every read, the byte mutations, and the case counts printed at the end.
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { createCipheriv, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { findJsonIssues } from '../../src/core/json.js';
import type { StateLimits } from '../../src/core/limits.js';
import type { PluginState } from '../../src/index.js';

/**
 * A read that takes longer than this is a failure: a safety bound against hangs and runaway work,
 * not a benchmark. It bounds the CPU time of the read (user + system of this process), which other
 * processes on a busy machine do not inflate. The wall-clock time is bounded too, 10 times more
 * loosely, so that a read blocked without using the CPU (on a lock, say) is caught as well.
 */
export const MAX_READ_MS = Number(process.env.PLUGIN_STATE_FUZZ_MAX_READ_MS) || 1000;
export const MAX_READ_WALL_MS = Number(process.env.PLUGIN_STATE_FUZZ_MAX_READ_WALL_MS) || 10 * MAX_READ_MS;

/**
 * Cases over all fast-check properties: `PLUGIN_STATE_FUZZ_RUNS` (the long form, `npm run
 * test:fuzz`, sets 100,000), else a few thousand for `npm test`. Fixed cases (every offset of a
 * small file, the 100,000-deep and 10 MiB files) come on top.
 */
export const FUZZ_TOTAL = Number(process.env.PLUGIN_STATE_FUZZ_RUNS) || 2_000;
export const LONG_FORM = FUZZ_TOTAL >= 20_000;
/** A fixed seed reproduces a run (fast-check prints the seed of a failure). */
export const FUZZ_SEED = process.env.PLUGIN_STATE_FUZZ_SEED
  ? Number(process.env.PLUGIN_STATE_FUZZ_SEED)
  : undefined;

// ---------------------------------------------------------------------------------------------
// Reference decoder: written from the documented rules, not from the code under test.

/** What a text holds, learnt with `JSON.parse` and one iterative walk. */
export interface Analysis {
  utf8: boolean;
  /** JSON.parse accepted the text. */
  json: boolean;
  parsed: unknown;
  /** Deepest nesting of containers: a bare `[]` or `{}` is 1, a scalar 0. */
  depth: number;
  /** A `__proto__` key or a `constructor` holding an object with its own `prototype`, anywhere. */
  proto: boolean;
  /** A number that parsed to ±Infinity (a literal beyond the double range, such as 1e400). */
  nonFinite: boolean;
  /** The same of the value under `data`, when the text is an object holding one. */
  dataDepth: number;
  dataNonFinite: boolean;
}

export function analyzeBytes(bytes: Buffer): Analysis {
  if (!isUtf8(bytes)) return { ...analyzeText(''), utf8: false, json: false };
  return analyzeText(bytes.toString('utf8'));
}

export function analyzeText(text: string): Analysis {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return {
      utf8: true,
      json: false,
      parsed: undefined,
      depth: 0,
      proto: false,
      nonFinite: false,
      dataDepth: 0,
      dataNonFinite: false,
    };
  }
  const whole = walk(parsed);
  const holdsData = isPlainRecord(parsed) && Object.hasOwn(parsed, 'data');
  const data = holdsData ? walk((parsed as Record<string, unknown>).data) : { depth: 0, nonFinite: false };
  return {
    utf8: true,
    json: true,
    parsed,
    depth: whole.depth,
    proto: whole.proto,
    nonFinite: whole.nonFinite,
    dataDepth: data.depth,
    dataNonFinite: data.nonFinite,
  };
}

function walk(root: unknown): { depth: number; proto: boolean; nonFinite: boolean } {
  let depth = 0;
  let proto = false;
  let nonFinite = false;
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [node, level] = stack.pop()!;
    if (typeof node === 'number') {
      if (!Number.isFinite(node)) nonFinite = true;
      continue;
    }
    if (node === null || typeof node !== 'object') continue;
    if (level > depth) depth = level;
    if (Array.isArray(node)) {
      for (const child of node) stack.push([child, level + 1]);
      continue;
    }
    for (const key of Object.keys(node)) {
      const child = (node as Record<string, unknown>)[key];
      if (key === '__proto__') proto = true;
      if (
        key === 'constructor' &&
        child !== null &&
        typeof child === 'object' &&
        Object.hasOwn(child, 'prototype')
      ) {
        proto = true;
      }
      stack.push([child, level + 1]);
    }
  }
  return { depth, proto, nonFinite };
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * What a read must do with some bytes: `accept` (return exactly `value`), `refuse` (a typed error),
 * or `either` (both are right: a limit the read path may or may not enforce).
 */
export type Verdict<T> =
  | { kind: 'accept'; value: T }
  | { kind: 'refuse'; reason: string }
  | { kind: 'either'; value: T; reason: string };

export interface ExpectedState {
  pluginId: string;
  version: number;
  revision: number;
  lastModified: Date;
  data: unknown;
}

export interface ExpectedHeader {
  pluginId: string;
  version: number;
  revision: number;
  lastModified: Date;
}

/** Why a parsed envelope's metadata is not a valid header for `id`; undefined when it is one. */
function headerProblem(parsed: unknown, id: string): string | undefined {
  if (!isPlainRecord(parsed)) return 'not a JSON object';
  if (parsed.format !== 1) return 'format is not 1';
  if (parsed.pluginId !== id) return 'pluginId is not the id the file is named for';
  for (const field of ['version', 'revision'] as const) {
    const n = parsed[field];
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1)
      return `${field} is not a whole number >= 1`;
  }
  const lastModified = parsed.lastModified;
  if (typeof lastModified !== 'string' || Number.isNaN(new Date(lastModified).getTime())) {
    return 'lastModified is not a date';
  }
  return undefined;
}

function headerOf(parsed: Record<string, unknown>, id: string): ExpectedHeader {
  return {
    pluginId: id,
    version: parsed.version as number,
    revision: parsed.revision as number,
    lastModified: new Date(parsed.lastModified as string),
  };
}

/** A whole state file, as `loadState` and `decodeEnvelope` must read it. */
export function envelopeVerdict(a: Analysis, id: string, limits: StateLimits): Verdict<ExpectedState> {
  if (!a.utf8) return { kind: 'refuse', reason: 'invalid UTF-8' };
  if (!a.json) return { kind: 'refuse', reason: 'not JSON' };
  if (a.proto) return { kind: 'refuse', reason: 'a prototype payload' };
  // The envelope is one level; the data may nest maxDepth more.
  if (a.depth > limits.maxDepth + 1) return { kind: 'refuse', reason: 'nested deeper than the limit' };
  const problem = headerProblem(a.parsed, id);
  if (problem) return { kind: 'refuse', reason: problem };
  const record = a.parsed as Record<string, unknown>;
  if (!Object.hasOwn(record, 'data')) return { kind: 'refuse', reason: 'no data' };
  if (a.dataNonFinite)
    return { kind: 'refuse', reason: 'data holds a number beyond the double range (±Infinity)' };
  const value = { ...headerOf(record, id), data: record.data };
  if (overBytes(record.data, limits)) return { kind: 'either', value, reason: 'data over maxBytes' };
  return { kind: 'accept', value };
}

/**
 * What `checkStoredFile` (the full check of a small file before a save or in a history listing)
 * must say: the same, but with no depth or size limit, and data numbers are not its business.
 */
export function storedFileVerdict(a: Analysis, id: string): Verdict<ExpectedHeader> {
  if (!a.utf8) return { kind: 'refuse', reason: 'invalid UTF-8' };
  if (!a.json) return { kind: 'refuse', reason: 'not JSON' };
  if (a.proto) return { kind: 'refuse', reason: 'a prototype payload' };
  const problem = headerProblem(a.parsed, id);
  if (problem) return { kind: 'refuse', reason: problem };
  const record = a.parsed as Record<string, unknown>;
  if (!Object.hasOwn(record, 'data')) return { kind: 'refuse', reason: 'no data' };
  const value = headerOf(record, id);
  if (a.dataNonFinite) return { kind: 'either', value, reason: 'data holds ±Infinity' };
  return { kind: 'accept', value };
}

/** Bytes parsed by `parseStoredJson`: any JSON value within maxDepth + 1 (room for an envelope). */
export function documentVerdict(a: Analysis, limits: StateLimits): Verdict<unknown> {
  if (!a.utf8) return { kind: 'refuse', reason: 'invalid UTF-8' };
  if (!a.json) return { kind: 'refuse', reason: 'not JSON' };
  if (a.proto) return { kind: 'refuse', reason: 'a prototype payload' };
  if (a.depth > limits.maxDepth + 1) return { kind: 'refuse', reason: 'nested deeper than the limit' };
  if (a.nonFinite) return { kind: 'either', value: a.parsed, reason: 'holds ±Infinity' };
  return { kind: 'accept', value: a.parsed };
}

/**
 * The bytes of a state's data alone (a SQLite row's data column, a decrypted plaintext): returned
 * only if they are data the store would accept in a save — plain JSON within maxDepth.
 */
export function dataVerdict(a: Analysis, limits: StateLimits): Verdict<unknown> {
  if (!a.utf8) return { kind: 'refuse', reason: 'invalid UTF-8' };
  if (!a.json) return { kind: 'refuse', reason: 'not JSON' };
  if (a.proto) return { kind: 'refuse', reason: 'a prototype payload' };
  if (a.depth > limits.maxDepth) return { kind: 'refuse', reason: `nested ${a.depth} levels, over maxDepth` };
  if (a.nonFinite) return { kind: 'refuse', reason: 'holds a number beyond the double range (±Infinity)' };
  if (overBytes(a.parsed, limits)) return { kind: 'either', value: a.parsed, reason: 'over maxBytes' };
  return { kind: 'accept', value: a.parsed };
}

function overBytes(data: unknown, limits: StateLimits): boolean {
  const text = JSON.stringify(data);
  return text !== undefined && text.length * 3 > limits.maxBytes && Buffer.byteLength(text) > limits.maxBytes;
}

// ---------------------------------------------------------------------------------------------
// Checking what a read returned.

/** A read's result or error, and how long it took. */
export type Outcome<T> =
  | { ok: true; value: T; ms: number; cpuMs: number }
  | { ok: false; error: unknown; ms: number; cpuMs: number };

export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.constructor.name}: ${error.message.slice(0, 300)}`;
  return `a thrown ${typeof error}: ${String(error).slice(0, 300)}`;
}

type ErrorClass = abstract new (...args: never[]) => Error;

/** Fails unless the read threw one of `allowed` (the typed errors that fit this read). */
export function assertTyped(what: string, error: unknown, allowed: readonly ErrorClass[]): void {
  if (allowed.some((type) => error instanceof type)) return;
  assert.fail(
    `${what}: threw ${describeError(error)}, not a ${allowed.map((type) => type.name).join(' or ')}` +
      (error instanceof Error && error.cause ? ` (cause: ${describeError(error.cause)})` : ''),
  );
}

/**
 * Checks a read against its verdict: a typed error where refusing is right, exactly the expected
 * value where returning is right, never anything else.
 */
export function assertRead<T, E>(
  what: string,
  outcome: Outcome<T>,
  verdict: Verdict<E>,
  allowed: readonly ErrorClass[],
  same: (actual: T, expected: E) => void,
): void {
  if (!outcome.ok) {
    assertTyped(what, outcome.error, allowed);
    if (verdict.kind === 'accept') {
      assert.fail(`${what}: refused bytes that hold a valid state: ${describeError(outcome.error)}`);
    }
    return;
  }
  if (verdict.kind === 'refuse') {
    assert.fail(`${what}: returned a value from bytes that must be refused (${verdict.reason})`);
  }
  same(outcome.value, verdict.value);
}

/** The fields of a returned state that the stored bytes decide, checked clean and equal. */
export function assertSameState(
  what: string,
  actual: PluginState | undefined,
  expected: ExpectedState,
  limits: StateLimits,
): void {
  assert.ok(actual, `${what}: returned nothing where the bytes hold a state`);
  assertCleanState(what, actual, limits);
  assert.deepStrictEqual(
    {
      pluginId: actual.pluginId,
      version: actual.version,
      revision: actual.revision,
      lastModified: actual.lastModified,
      data: actual.data,
    },
    expected,
    `${what}: the state differs from what the bytes hold`,
  );
}

/**
 * A returned state must be one the store itself would accept: valid metadata, and data that is
 * plain JSON within the limits (finite numbers, no prototype payloads), every object of it an
 * ordinary object or array with the ordinary prototype.
 */
export function assertCleanState(what: string, state: PluginState, limits: StateLimits): void {
  assert.equal(typeof state.pluginId, 'string', `${what}: pluginId`);
  for (const field of ['version', 'revision'] as const) {
    const n = state[field];
    assert.ok(typeof n === 'number' && Number.isSafeInteger(n) && n >= 1, `${what}: ${field} is ${n}`);
  }
  assert.ok(
    state.lastModified instanceof Date && !Number.isNaN(state.lastModified.getTime()),
    `${what}: lastModified`,
  );
  assertCleanData(what, state.data, limits);
}

export function assertCleanData(what: string, data: unknown, limits: StateLimits): void {
  const issues = findJsonIssues(data, limits.maxDepth);
  assert.deepEqual(
    issues,
    [],
    `${what}: returned data the store would refuse to save: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
  );
  const stack: unknown[] = [data];
  while (stack.length > 0) {
    const node = stack.pop();
    if (node === null || typeof node !== 'object') continue;
    const expected = Array.isArray(node) ? Array.prototype : Object.prototype;
    assert.ok(
      Object.getPrototypeOf(node) === expected,
      `${what}: returned data holds an object with another prototype`,
    );
    assert.ok(!Object.hasOwn(node, '__proto__'), `${what}: returned data holds a __proto__ key`);
    for (const child of Object.values(node)) stack.push(child);
  }
}

// ---------------------------------------------------------------------------------------------
// Built-in prototypes: nothing a read does may change them.

const GUARDED: ReadonlyArray<[string, object]> = [
  ['Object.prototype', Object.prototype],
  ['Array.prototype', Array.prototype],
  ['Function.prototype', Function.prototype],
  ['String.prototype', String.prototype],
];

function prototypeSnapshot(): Map<string, unknown> {
  const snapshot = new Map<string, unknown>();
  for (const [name, proto] of GUARDED) {
    for (const key of Reflect.ownKeys(proto)) {
      const descriptor = Object.getOwnPropertyDescriptor(proto, key)!;
      snapshot.set(`${name}.${String(key)}`, descriptor.value ?? descriptor.get);
    }
    snapshot.set(`${name} [[Prototype]]`, Object.getPrototypeOf(proto));
  }
  return snapshot;
}

const BASELINE = prototypeSnapshot();

export function assertPrototypesUntouched(what: string): void {
  const probe = {} as Record<string, unknown>;
  assert.equal(probe.polluted, undefined, `${what}: Object.prototype.polluted was set`);
  assert.equal(
    ([] as unknown as Record<string, unknown>).polluted,
    undefined,
    `${what}: Array.prototype was polluted`,
  );
  const now = prototypeSnapshot();
  for (const [key, value] of now) {
    if (BASELINE.get(key) !== value || !BASELINE.has(key))
      assert.fail(`${what}: ${key} was changed or added`);
  }
  assert.equal(now.size, BASELINE.size, `${what}: a built-in prototype lost a property`);
}

// ---------------------------------------------------------------------------------------------
// Counting and timing.

interface PropertyStats {
  cases: number;
  reads: number;
  /** The most CPU time one read took, and that read. */
  slowestCpuMs: number;
  slowestRead: string;
  /** The longest wall-clock time one read took, and that read. */
  slowestWallMs: number;
  slowestWallRead: string;
}

type Result<T> = { ok: true; value: T } | { ok: false; error: unknown };

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

/** Cases and reads per property, and the slowest read: printed at the end of the run. */
export class FuzzStats {
  private readonly properties = new Map<string, PropertyStats>();
  private current = '';
  private readonly started = performance.now();

  /** Starts counting for `property`; its cases and reads add up until the next call. */
  use(property: string): void {
    this.current = property;
    if (!this.properties.has(property)) {
      this.properties.set(property, {
        cases: 0,
        reads: 0,
        slowestCpuMs: 0,
        slowestRead: '',
        slowestWallMs: 0,
        slowestWallRead: '',
      });
    }
  }

  countCase(): void {
    this.entry().cases++;
  }

  /** Runs one read, times it, and fails when it took longer than the bounds. */
  async time<T>(what: string, read: () => Promise<T>): Promise<Outcome<T>> {
    const start = performance.now();
    const cpu = process.cpuUsage();
    let result: Result<T>;
    try {
      result = { ok: true, value: await read() };
    } catch (error) {
      result = { ok: false, error };
    }
    return this.record(what, result, performance.now() - start, cpuMsSince(cpu));
  }

  /** The same for a synchronous read (the decoders). */
  timeSync<T>(what: string, read: () => T): Outcome<T> {
    const start = performance.now();
    const cpu = process.cpuUsage();
    let result: Result<T>;
    try {
      result = { ok: true, value: read() };
    } catch (error) {
      result = { ok: false, error };
    }
    return this.record(what, result, performance.now() - start, cpuMsSince(cpu));
  }

  private record<T>(what: string, result: Result<T>, ms: number, cpuMs: number): Outcome<T> {
    const entry = this.entry();
    entry.reads++;
    if (cpuMs > entry.slowestCpuMs) {
      entry.slowestCpuMs = cpuMs;
      entry.slowestRead = what;
    }
    if (ms > entry.slowestWallMs) {
      entry.slowestWallMs = ms;
      entry.slowestWallRead = what;
    }
    assert.ok(
      cpuMs < MAX_READ_MS,
      `${what}: used ${cpuMs.toFixed(0)} ms of CPU, over the ${MAX_READ_MS} ms bound (runaway work?)`,
    );
    assert.ok(
      ms < MAX_READ_WALL_MS,
      `${what}: took ${ms.toFixed(0)} ms, over the ${MAX_READ_WALL_MS} ms wall-clock bound (a hang?)`,
    );
    return { ...result, ms, cpuMs };
  }

  summary(): string {
    const rows = [...this.properties].filter(([, stats]) => stats.cases > 0);
    const width = Math.max(...rows.map(([name]) => name.length), 10);
    let cases = 0;
    let reads = 0;
    let slowCpu = { ms: 0, what: '' };
    let slowWall = { ms: 0, what: '' };
    const lines = ['read-path fuzzing: cases per property (slowest read: CPU ms / wall ms)'];
    for (const [name, stats] of rows) {
      cases += stats.cases;
      reads += stats.reads;
      if (stats.slowestCpuMs > slowCpu.ms)
        slowCpu = { ms: stats.slowestCpuMs, what: `${name}: ${stats.slowestRead}` };
      if (stats.slowestWallMs > slowWall.ms) {
        slowWall = { ms: stats.slowestWallMs, what: `${name}: ${stats.slowestWallRead}` };
      }
      lines.push(
        `  ${name.padEnd(width)}  ${String(stats.cases).padStart(7)} cases  ${String(stats.reads).padStart(8)} reads` +
          `  slowest ${stats.slowestCpuMs.toFixed(1).padStart(6)} / ${stats.slowestWallMs.toFixed(1).padStart(6)} ms`,
      );
    }
    const seconds = (performance.now() - this.started) / 1000;
    lines.push(
      `  ${'total'.padEnd(width)}  ${String(cases).padStart(7)} cases  ${String(reads).padStart(8)} reads`,
    );
    lines.push(
      `  slowest read (CPU):  ${slowCpu.ms.toFixed(1)} ms, ${slowCpu.what}; bound ${MAX_READ_MS} ms`,
    );
    lines.push(
      `  slowest read (wall): ${slowWall.ms.toFixed(1)} ms, ${slowWall.what}; bound ${MAX_READ_WALL_MS} ms`,
    );
    lines.push(`  wall time: ${seconds.toFixed(1)} s; PLUGIN_STATE_FUZZ_RUNS=${FUZZ_TOTAL}`);
    return lines.join('\n');
  }

  private entry(): PropertyStats {
    const entry = this.properties.get(this.current);
    if (!entry) throw new Error('FuzzStats.use() was not called');
    return entry;
  }
}

// ---------------------------------------------------------------------------------------------
// Building and damaging bytes.

/** Flips one bit at each `[position, bit]`; positions wrap around the length. */
export function flipBits(bytes: Buffer, flips: ReadonlyArray<readonly [number, number]>): Buffer {
  const out = Buffer.from(bytes);
  if (out.length === 0) return out;
  for (const [position, bit] of flips) out[position % out.length]! ^= 1 << (bit & 7);
  return out;
}

/** Replaces `bytes[at, at + length)` with `chunk` (an insertion when `length` is 0). */
export function splice(bytes: Buffer, at: number, length: number, chunk: Uint8Array): Buffer {
  const start = Math.min(at, bytes.length);
  return Buffer.concat([
    bytes.subarray(0, start),
    chunk,
    bytes.subarray(Math.min(start + length, bytes.length)),
  ]);
}

/** Replaces every occurrence of one ASCII id with another of the same length. */
export function replaceId(bytes: Buffer, from: string, to: string): Buffer {
  const out = Buffer.from(bytes);
  const needle = Buffer.from(from, 'latin1');
  for (let at = out.indexOf(needle); at >= 0; at = out.indexOf(needle, at + needle.length)) {
    out.write(to, at, 'latin1');
  }
  return out;
}

/** Byte sequences that are not UTF-8, each with what it is. */
export const INVALID_UTF8: ReadonlyArray<readonly [string, readonly number[]]> = [
  ['a lone continuation byte 0x80', [0x80]],
  ['a lone continuation byte 0xBF', [0xbf]],
  ['two continuation bytes', [0x80, 0xbf]],
  ['overlong NUL (C0 80)', [0xc0, 0x80]],
  ['overlong "/" (C1 AF)', [0xc1, 0xaf]],
  ['overlong 3-byte (E0 80 80)', [0xe0, 0x80, 0x80]],
  ['overlong 3-byte (E0 9F BF)', [0xe0, 0x9f, 0xbf]],
  ['overlong 4-byte (F0 80 80 80)', [0xf0, 0x80, 0x80, 0x80]],
  ['overlong 4-byte (F0 8F BF BF)', [0xf0, 0x8f, 0xbf, 0xbf]],
  ['a high surrogate in UTF-8 (ED A0 80)', [0xed, 0xa0, 0x80]],
  ['a low surrogate in UTF-8 (ED BF BF)', [0xed, 0xbf, 0xbf]],
  ['a surrogate pair in CESU-8 (ED A0 BD ED B8 80)', [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80]],
  ['beyond U+10FFFF (F4 90 80 80)', [0xf4, 0x90, 0x80, 0x80]],
  ['a 5-byte lead (F8 88 80 80 80)', [0xf8, 0x88, 0x80, 0x80, 0x80]],
  ['F5', [0xf5]],
  ['FE', [0xfe]],
  ['FF', [0xff]],
  ['a cut 3-byte sequence (E2 82)', [0xe2, 0x82]],
  ['a cut 4-byte sequence (F0 9F 98)', [0xf0, 0x9f, 0x98]],
  ['a lead byte then ASCII (C3 41)', [0xc3, 0x41]],
];

/** `depth` nested containers as JSON text, in one of several shapes (the unclosed ones are cut). */
export type NestingShape = 'arrays' | 'objects' | 'mixed' | 'unclosed arrays' | 'unclosed objects';
export const NESTING_SHAPES: readonly NestingShape[] = [
  'arrays',
  'objects',
  'mixed',
  'unclosed arrays',
  'unclosed objects',
];

export function nestedText(depth: number, shape: NestingShape): string {
  switch (shape) {
    case 'arrays':
      return `${'['.repeat(depth)}${']'.repeat(depth)}`;
    case 'objects':
      return `${'{"a":'.repeat(depth - 1)}{}${'}'.repeat(depth - 1)}`;
    case 'mixed': {
      const half = Math.floor(depth / 2);
      return `${'[{"a":'.repeat(half)}${depth % 2 === 1 ? '[]' : '0'}${'}]'.repeat(half)}`;
    }
    case 'unclosed arrays':
      return '['.repeat(depth);
    case 'unclosed objects':
      return '{"a":'.repeat(depth);
  }
}

export const ENVELOPE_FIELDS = ['format', 'pluginId', 'version', 'revision', 'lastModified', 'data'] as const;
export type EnvelopeField = (typeof ENVELOPE_FIELDS)[number];

/**
 * A state file from field texts, in the library's layout (one field per line, the data last) or
 * compact; a field set to undefined is left out, and extra fields are kept in order.
 */
export function envelopeText(
  fields: ReadonlyArray<readonly [string, string]>,
  layout: 'library' | 'compact' = 'library',
): string {
  if (layout === 'compact')
    return `{${fields.map(([key, value]) => `${JSON.stringify(key)}:${value}`).join(',')}}`;
  return `{\n${fields.map(([key, value]) => `  ${JSON.stringify(key)}: ${value}`).join(',\n')}\n}\n`;
}

/** The field texts of a valid envelope of `id` holding `dataText`, in the library's order. */
export function validFields(id: string, dataText: string, revision = 1): Array<[EnvelopeField, string]> {
  return [
    ['format', '1'],
    ['pluginId', JSON.stringify(id)],
    ['version', '1'],
    ['revision', String(revision)],
    ['lastModified', JSON.stringify('2026-01-02T03:04:05.678Z')],
    ['data', dataText],
  ];
}

/**
 * JSON text of `value` with `entry` (the text of one `"key": value` member) added to the
 * `target`-th object met in a depth-first walk (wrapping the value in an object when it has
 * fewer objects), at member position `position`.
 */
export function textWithMember(value: unknown, entry: string, target: number, position: number): string {
  let seen = 0;
  let placed = false;
  const write = (node: unknown): string => {
    if (node === null || typeof node !== 'object') return JSON.stringify(node) ?? 'null';
    if (Array.isArray(node)) return `[${node.map(write).join(',')}]`;
    const members = Object.entries(node).map(([key, child]) => `${JSON.stringify(key)}:${write(child)}`);
    if (seen++ === target) {
      members.splice(position % (members.length + 1), 0, entry);
      placed = true;
    }
    return `{${members.join(',')}}`;
  };
  const text = write(value);
  return placed ? text : `{${entry},"v":${text}}`;
}

/** A string whose JSON text (quotes included) is exactly `bytes` bytes. */
export function jsonStringOfBytes(bytes: number): string {
  return 'a'.repeat(bytes - 2);
}

// ---------------------------------------------------------------------------------------------
// The encryption layer: an envelope over any plaintext bytes, authenticated with the store's key.

export function sealRaw(
  key: Buffer,
  kid: string,
  aad: Buffer,
  plaintext: Buffer,
): { 'plugin-state:encrypted': 1; kid: string; iv: string; tag: string; ct: string } {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  cipher.setAAD(aad);
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return {
    'plugin-state:encrypted': 1,
    kid,
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    ct: ct.toString('base64'),
  };
}
