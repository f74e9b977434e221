import { JsonDecodeError, parseStoredJson } from '../../core/json.js';
import type { StateLimits } from '../../core/limits.js';
import type { JsonValue, PluginId } from '../../core/types.js';

/** Format version of the file envelope; a file of a newer format is refused, never misread. */
export const ENVELOPE_FORMAT = 1;

const DATA_MARKER = '\n  "data": ';
/** Every complete file ends so; compact JSON data never contains a raw newline, so a cut file cannot. */
const TRAILER = '\n}\n';

export interface EnvelopeHeader {
  pluginId: PluginId;
  version: number;
  revision: number;
  lastModified: Date;
}

/**
 * Writes a state as one human-readable JSON document: the metadata one field per line, then the
 * data, compact. The layout is fixed so that the header can be read from the first bytes alone.
 */
export function encodeEnvelope(header: EnvelopeHeader, dataJson: string): Buffer {
  const head =
    `{\n  "format": ${ENVELOPE_FORMAT},\n  "pluginId": "${header.pluginId}",\n  "version": ${header.version},\n` +
    `  "revision": ${header.revision},\n  "lastModified": "${header.lastModified.toISOString()}",${DATA_MARKER}`;
  // Encoding each part into one buffer sized for the worst case (3 bytes per UTF-16 unit) skips
  // flattening head + data + trailer into one string first: 1.3 ms less per MiB here.
  const buffer = Buffer.allocUnsafe(head.length + dataJson.length * 3 + TRAILER.length);
  let length = buffer.write(head, 0, 'latin1');
  length += buffer.write(dataJson, length, 'utf8');
  length += buffer.write(TRAILER, length, 'latin1');
  return buffer.subarray(0, length);
}

export class EnvelopeError extends Error {}

function checkHeader(value: unknown, expectedId: PluginId): EnvelopeHeader {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new EnvelopeError('the file does not hold a JSON object');
  }
  const record = value as Record<string, unknown>;
  if (record.format !== ENVELOPE_FORMAT) {
    throw new EnvelopeError(
      typeof record.format === 'number' && record.format > ENVELOPE_FORMAT
        ? `envelope format ${record.format} is newer than this library reads (${ENVELOPE_FORMAT}); upgrade plugin-state`
        : `"format" is ${shown(record.format)}, expected ${ENVELOPE_FORMAT}`,
    );
  }
  if (typeof record.pluginId !== 'string' || record.pluginId !== expectedId) {
    throw new EnvelopeError(
      `"pluginId" is ${shown(record.pluginId)}, but the file is named for ${expectedId}`,
    );
  }
  for (const field of ['version', 'revision'] as const) {
    const n = record[field];
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) {
      throw new EnvelopeError(`"${field}" is ${shown(n)}, expected a whole number >= 1`);
    }
  }
  const lastModified = typeof record.lastModified === 'string' ? new Date(record.lastModified) : undefined;
  if (!lastModified || Number.isNaN(lastModified.getTime())) {
    throw new EnvelopeError(`"lastModified" is ${shown(record.lastModified)}, expected an ISO date`);
  }
  return {
    pluginId: expectedId,
    version: record.version as number,
    revision: record.revision as number,
    lastModified,
  };
}

/**
 * A header field's value for a message: never stringified whole, as a file may hold anything there
 * (a string of megabytes, arrays nested thousands deep that would overflow `JSON.stringify`).
 */
function shown(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value !== null && typeof value === 'object') return 'an object';
  const text = value === undefined ? 'missing' : JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Reads a whole file's bytes into a state, trusting nothing in them. */
export function decodeEnvelope(
  bytes: Buffer,
  expectedId: PluginId,
  limits: StateLimits,
): EnvelopeHeader & { data: JsonValue } {
  if (bytes.length === 0) throw new EnvelopeError('the file is empty (0 bytes)');
  let parsed: unknown;
  try {
    parsed = parseStoredJson(bytes, limits, 1); // the envelope is one level around the data
  } catch (error) {
    throw new EnvelopeError(error instanceof JsonDecodeError ? error.message : String(error));
  }
  const header = checkHeader(parsed, expectedId);
  const record = parsed as Record<string, unknown>;
  if (!Object.hasOwn(record, 'data')) throw new EnvelopeError('the "data" field is missing');
  return { ...header, data: record.data as JsonValue };
}

/**
 * Reads the header from the first bytes of a file and checks that the file is complete, without
 * parsing the data: what a save needs to know about the state it replaces, cheaply even at 10 MiB.
 * Throws `EnvelopeError` when the header is unreadable or the file is cut short.
 */
export function decodeHeader(head: Buffer, tail: Buffer, expectedId: PluginId): EnvelopeHeader {
  const text = head.toString('utf8');
  const end = text.indexOf(DATA_MARKER);
  if (end < 0) throw new EnvelopeError('the header is unreadable');
  let parsed: unknown;
  try {
    parsed = JSON.parse(`${text.slice(0, end - 1)}}`);
  } catch (error) {
    throw new EnvelopeError(
      `the header is unreadable: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (tail.toString('latin1') !== TRAILER)
    throw new EnvelopeError('the file is cut short (its end is missing)');
  return checkHeader(parsed, expectedId);
}

/**
 * Checks a small stored file completely before a save replaces it: valid JSON text and a valid
 * header. The read limits are not applied: a file valid under older, wider limits is not corrupt.
 */
export function checkStoredFile(bytes: Buffer, expectedId: PluginId): EnvelopeHeader {
  return decodeStoredFile(bytes, expectedId).header;
}

/** {@link checkStoredFile}, and the bytes of the file's data JSON (what `listRevisions` shows). */
export function measureStoredFile(
  bytes: Buffer,
  expectedId: PluginId,
): { header: EnvelopeHeader; dataBytes: number } {
  const { header, data } = decodeStoredFile(bytes, expectedId);
  // The library's own layout gives the size without serializing; a file edited by hand (CRLF line
  // ends, reformatted) is measured as its data serializes.
  if (bytes.indexOf(DATA_MARKER, 0, 'latin1') >= 0 && endsWithTrailer(bytes)) {
    return { header, dataBytes: dataByteLength(bytes, bytes.length) };
  }
  let json: string;
  try {
    json = JSON.stringify(data);
  } catch (error) {
    throw new EnvelopeError(`its data cannot be serialized again (${String(error)})`);
  }
  return { header, dataBytes: Buffer.byteLength(json) };
}

function decodeStoredFile(bytes: Buffer, expectedId: PluginId): { header: EnvelopeHeader; data: JsonValue } {
  // What loadState refuses as corrupt must be corrupt here too, or a save would overwrite those bytes
  // instead of moving them aside: invalid UTF-8 (which toString would silently replace) and
  // prototype payloads (which the library never writes). Only the size and depth limits differ.
  const { data, ...header } = decodeEnvelope(bytes, expectedId, UNLIMITED);
  return { header, data };
}

function endsWithTrailer(bytes: Buffer): boolean {
  const at = bytes.length - TRAILER.length;
  return at >= 0 && bytes[at] === 0x0a && bytes[at + 1] === 0x7d && bytes[at + 2] === 0x0a; // "\n}\n"
}

/** Only the depth walk's own bound: a file nested deeper than today's limit is not corrupt. */
const UNLIMITED: StateLimits = { maxDepth: Number.MAX_SAFE_INTEGER - 1, maxBytes: Number.MAX_SAFE_INTEGER };

/**
 * Bytes of the data JSON in a file of `fileSize` bytes whose first bytes are `head` (a header that
 * {@link decodeHeader} or {@link checkStoredFile} accepted): what `listRevisions` reports as `size`,
 * without parsing the data.
 */
export function dataByteLength(head: Buffer, fileSize: number): number {
  // The header is ASCII (ids, numbers, an ISO date), so its character offsets are byte offsets.
  return fileSize - head.indexOf(DATA_MARKER, 0, 'latin1') - DATA_MARKER.length - TRAILER.length;
}

export const HEADER_READ_BYTES = 512;
export const TRAILER_BYTES = TRAILER.length;
