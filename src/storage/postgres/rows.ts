import type { SerializationError } from '../../core/errors.js';
import { JsonDecodeError, parseStoredJson } from '../../core/json.js';
import type { StateLimits } from '../../core/limits.js';
import type { JsonValue, PluginId, PluginState, RevisionInfo } from '../../core/types.js';

/** A stored row as `SELECT version, revision, last_modified, data` returns it (int8 as text). */
export type StoredRow = [version: string, revision: string, lastModified: string, data: string];

/** A row of the `revisions` statement: current or kept, version, revision, last_modified, bytes of data. */
export type RevisionRow = [
  current: boolean,
  version: string,
  revision: string,
  lastModified: string,
  size: number,
];

/** The range of a JavaScript Date, in milliseconds either side of 1970. */
const MAX_TIME = 8.64e15;

/** Checks the numbers of a stored row (version, revision, last_modified); returns the problem, if any. */
function numbersOf(
  version: string,
  revision: string,
  lastModified: string,
): { version: number; revision: number; time: number } | string {
  const numbers = { version: Number(version), revision: Number(revision), time: Number(lastModified) };
  if (!Number.isSafeInteger(numbers.version) || numbers.version < 1) {
    return `its version column holds ${JSON.stringify(version)}`;
  }
  if (!Number.isSafeInteger(numbers.revision) || numbers.revision < 1) {
    return `its revision column holds ${JSON.stringify(revision)}`;
  }
  if (!Number.isSafeInteger(numbers.time) || Math.abs(numbers.time) > MAX_TIME) {
    return `its last_modified column holds ${JSON.stringify(lastModified)}, not a time in milliseconds`;
  }
  return numbers;
}

/** Checks the metadata of a current or kept row as `decodeRow` does (the data is only measured). */
export function decodeRevisionInfo(
  [current, version, revision, lastModified, size]: RevisionRow,
  corrupt: (problem: string) => SerializationError,
): RevisionInfo {
  const numbers = numbersOf(version, revision, lastModified);
  if (typeof numbers === 'string') throw corrupt(numbers);
  return {
    revision: numbers.revision,
    version: numbers.version,
    lastModified: new Date(numbers.time),
    size: Number(size),
    current,
  };
}

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
  const numbers = numbersOf(version, revision, lastModified);
  if (typeof numbers === 'string') throw corrupt(numbers);
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
