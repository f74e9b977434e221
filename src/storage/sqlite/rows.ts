import { parseStoredJson } from '../../core/json.js';
import type { StateLimits } from '../../core/limits.js';
import type { JsonValue, PluginId } from '../../core/types.js';

/** A row as `SELECT plugin_id, version, revision, last_modified, data` returns it, unchecked. */
export type StoredRow = [
  pluginId: unknown,
  version: unknown,
  revision: unknown,
  lastModified: unknown,
  data: unknown,
];

/** The checked metadata of a row. */
export interface RowMeta {
  version: number;
  revision: number;
  lastModified: number;
}

/** Why a row cannot be read back; the store turns it into a SerializationError naming the place. */
export class RowError extends Error {}

const CANONICAL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MAX_TIME = 8.64e15;

/** The row's plugin id, if it is one this library could have written (lower-case UUID). */
export function checkId(value: unknown): PluginId {
  if (typeof value !== 'string' || !CANONICAL_ID.test(value)) {
    throw new RowError(`plugin_id ${JSON.stringify(value)} is not a lower-case UUID`);
  }
  return value;
}

/** Checks the row's metadata columns, which SQLite's loose typing lets a foreign writer spoil. */
export function checkMeta(row: StoredRow): RowMeta {
  const [, version, revision, lastModified] = row;
  for (const [name, value] of [
    ['version', version],
    ['revision', revision],
  ] as const) {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      throw new RowError(`column ${name} holds ${JSON.stringify(value)}, not a whole number >= 1`);
    }
  }
  if (
    typeof lastModified !== 'number' ||
    !Number.isInteger(lastModified) ||
    Math.abs(lastModified) > MAX_TIME
  ) {
    throw new RowError(
      `column last_modified holds ${JSON.stringify(lastModified)}, not a time in milliseconds`,
    );
  }
  return { version: version as number, revision: revision as number, lastModified };
}

/**
 * The data column's bytes. The store reads it `CAST(data AS BLOB)`, so that invalid UTF-8 written
 * by a foreign tool reaches the parser (which refuses it) instead of being silently replaced.
 */
export function bytesOf(row: StoredRow): Buffer {
  const data = row[4];
  if (Buffer.isBuffer(data)) return data;
  throw new RowError(`column data holds ${data === null ? 'NULL' : `a ${typeof data}`}, not JSON text`);
}

/** Parses the data column without trusting it (invalid UTF-8, prototype keys, excessive depth). */
export function parseData(bytes: Buffer, limits: StateLimits): JsonValue {
  try {
    return parseStoredJson(bytes, limits) as JsonValue;
  } catch (error) {
    throw new RowError(
      `column data does not hold valid JSON (${error instanceof Error ? error.message : String(error)})`,
    );
  }
}
