import type { SerializationError } from '../../core/errors.js';
import { JsonDecodeError, parseStoredJson } from '../../core/json.js';
import type { StateLimits } from '../../core/limits.js';
import type { JsonValue, PluginId, PluginState } from '../../core/types.js';

/** A stored row as `SELECT version, revision, last_modified, data` returns it (int8 as text). */
export type StoredRow = [version: string, revision: string, lastModified: string, data: string];

/** The range of a JavaScript Date, in milliseconds either side of 1970. */
const MAX_TIME = 8.64e15;

/**
 * Checks a stored row and turns it into a fresh state. Nothing from the row is trusted: numbers
 * must be whole and in range, and the data goes through the safe parser (no prototype pollution,
 * bounded depth). A bad row is a `SerializationError` built by `corrupt`.
 */
export function decodeRow(
  pluginId: PluginId,
  [version, revision, lastModified, data]: StoredRow,
  limits: StateLimits,
  corrupt: (problem: string, cause?: unknown) => SerializationError,
): PluginState {
  const numbers = { version: Number(version), revision: Number(revision), time: Number(lastModified) };
  if (!Number.isSafeInteger(numbers.version) || numbers.version < 1) {
    throw corrupt(`its version column holds ${JSON.stringify(version)}`);
  }
  if (!Number.isSafeInteger(numbers.revision) || numbers.revision < 1) {
    throw corrupt(`its revision column holds ${JSON.stringify(revision)}`);
  }
  if (!Number.isSafeInteger(numbers.time) || Math.abs(numbers.time) > MAX_TIME) {
    throw corrupt(
      `its last_modified column holds ${JSON.stringify(lastModified)}, not a time in milliseconds`,
    );
  }
  let parsed: unknown;
  try {
    parsed = parseStoredJson(data, limits);
  } catch (error) {
    if (!(error instanceof JsonDecodeError)) throw error;
    throw corrupt(`its data column is not valid JSON (${error.message})`, error);
  }
  return {
    pluginId,
    data: parsed as JsonValue,
    lastModified: new Date(numbers.time),
    version: numbers.version,
    revision: numbers.revision,
  };
}
