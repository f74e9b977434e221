// Shared by the backup tests: states with tricky JSON, archives read and re-sealed by hand (from
// the format as documented in src/backup/format.ts, not from its code), and folder snapshots.
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { type JsonValue, openStorage, type PluginStateStorage } from '../../src/index.js';

/** Opens a storage from a URL and closes it after the test. */
export async function storageAt(t: TestContext, url: string): Promise<PluginStateStorage> {
  const storage = await openStorage(url);
  t.after(() => storage.close?.());
  return storage;
}

/** 100 levels of `{ "d": … }` around a string. */
export function nested(levels: number): JsonValue {
  let value: JsonValue = 'bottom';
  for (let i = 0; i < levels; i++) value = { d: value };
  return value;
}

/** Data that breaks careless serializers: every state of the round-trip tests holds one. */
export const TRICKY: Record<string, JsonValue> = {
  unicode: { text: 'Grüße, 日本語, עברית, Ελληνικά', 'ключ 🔑': 'значение', '': 'empty key' },
  nul: 'before\u0000after',
  controls: '\t\n\r\b\f\u0001\u001f\u007f\u2028\u2029',
  emoji: ['👩‍👩‍👧‍👦', '🏳️‍🌈', '🇯🇵', 'e\u0301'],
  loneSurrogate: '\ud800 and \udfff',
  // Parsed, as from a host's JSON: 2^64-ish and 2^53+1 do not fit a double and come out rounded.
  numbers: [
    ...(JSON.parse('[12345678901234567890, 9007199254740993]') as number[]),
    -0,
    5e-324,
    1.7976931348623157e308,
    0.1,
    -1e-7,
  ],
  negativeZero: -0,
  nested: nested(100),
  empties: [[], {}, '', null, false, 0],
  constructorKey: { constructor: 'a harmless string' },
  quotesAndSlashes: '"\\/</script>',
};

/** What a state's data reads back as after any storage (JSON semantics: -0 is 0, 2^64 loses digits). */
export function asStored(value: JsonValue): JsonValue {
  return JSON.parse(JSON.stringify(value)) as JsonValue;
}

/** `count` states with tricky data and assorted versions. */
export function trickyStates(count: number): Array<{ pluginId: string; data: JsonValue; version: number }> {
  return Array.from({ length: count }, (_, i) => ({
    pluginId: randomUUID(),
    data: { index: i, ...TRICKY },
    version: 1 + (i % 4),
  }));
}

export async function saveAll(
  storage: PluginStateStorage,
  states: Array<{ pluginId: string; data: JsonValue; version: number }>,
): Promise<void> {
  for (const state of states) await storage.saveState({ ...state, lastModified: new Date() });
}

/** Every current state of a storage as id → { data, version }, sorted by id. */
export async function contents(
  storage: PluginStateStorage,
): Promise<Map<string, { data: JsonValue; version: number }>> {
  const states = await storage.listStates();
  states.sort((a, b) => a.pluginId.localeCompare(b.pluginId));
  return new Map(states.map((s) => [s.pluginId, { data: s.data, version: s.version ?? 1 }]));
}

// ---- archives, by hand --------------------------------------------------------------------------

export function sha256(bytes: string | Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The lines of an archive file (without their "\n"); the last element is '' when it ends in "\n". */
export function archiveLines(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n');
}

/** A record line from its body (a JSON object's text), with its checksum as the format defines it. */
export function sealRecord(body: string): string {
  return `${body.slice(0, -1)},"sha256":"${sha256(body)}"}`;
}

/** The body of a record line: the line without `,"sha256":"…"` at its end. */
export function recordBody(line: string): string {
  return line.replace(/,"sha256":"[0-9a-f]{64}"\}$/, '}');
}

/**
 * An archive from a header object and record bodies, with every checksum and the trailer right:
 * what a careful forger (or a bug) would write. `trailer` overrides fields of the trailer.
 */
export function sealArchive(
  header: Record<string, unknown>,
  bodies: string[],
  trailer: Record<string, unknown> = {},
): string {
  return sealArchiveBytes(
    header,
    bodies.map((text) => Buffer.from(text)),
    trailer,
  ).toString('utf8');
}

/** {@link sealArchive} over raw bytes, for bodies that are not valid UTF-8. */
export function sealArchiveBytes(
  header: Record<string, unknown>,
  bodies: Buffer[],
  trailer: Record<string, unknown> = {},
): Buffer {
  const lines = [
    Buffer.from(JSON.stringify(header)),
    ...bodies.map((bytes) =>
      Buffer.concat([bytes.subarray(0, -1), Buffer.from(`,"sha256":"${sha256(bytes)}"}`)]),
    ),
  ];
  const before = Buffer.concat(lines.flatMap((line) => [line, Buffer.from('\n')]));
  const states = bodies.filter((bytes) => bytes.includes('"current":true')).length;
  const end = {
    trailer: 'plugin-state-backup',
    records: bodies.length,
    states,
    sha256: sha256(before),
    ...trailer,
  };
  return Buffer.concat([before, Buffer.from(`${JSON.stringify(end)}\n`)]);
}

export function header(history = false): Record<string, unknown> {
  return {
    format: 'plugin-state-backup',
    version: 1,
    createdAt: new Date().toISOString(),
    source: 'test',
    history,
  };
}

/** A record body for `data` (current unless told). */
export function body(
  pluginId: string,
  data: JsonValue,
  fields: { revision?: number; version?: number; current?: boolean } = {},
): string {
  return JSON.stringify({
    pluginId,
    revision: fields.revision ?? 1,
    version: fields.version ?? 1,
    lastModified: new Date(1_700_000_000_000).toISOString(),
    current: fields.current ?? true,
    data,
  });
}

// ---- folders ------------------------------------------------------------------------------------

/** Every file under `dir` (recursively) with its bytes and mode, for byte-identical comparisons. */
export function snapshot(dir: string): Map<string, { bytes: Buffer; mode: number }> {
  const files = new Map<string, { bytes: Buffer; mode: number }>();
  const walk = (folder: string, prefix: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path, `${prefix}${entry.name}/`);
      else files.set(`${prefix}${entry.name}`, { bytes: readFileSync(path), mode: statSync(path).mode });
    }
  };
  walk(dir, '');
  return files;
}

export function assertSameFolder(
  before: Map<string, { bytes: Buffer; mode: number }>,
  after: Map<string, { bytes: Buffer; mode: number }>,
): void {
  assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort(), 'the same files');
  for (const [name, file] of before) {
    const now = after.get(name)!;
    assert.ok(now.bytes.equals(file.bytes), `${name} is byte-identical`);
    assert.equal(now.mode, file.mode, `${name} keeps its mode`);
  }
}
