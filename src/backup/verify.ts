import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { isPluginId } from '../core/ids.js';
import { exceedsBytes, JsonDecodeError, parseStoredJson } from '../core/json.js';
import type { StateLimits } from '../core/limits.js';
import type { JsonValue, PluginId } from '../core/types.js';
import { integrityError, shapeError, truncated } from './archive-errors.js';
import { DigestList } from './digest-list.js';
import {
  ARCHIVE_FORMAT,
  ARCHIVE_VERSION,
  type ArchiveHeader,
  type ArchiveRecord,
  HEADER_KEYS,
  isIsoTimestamp,
  RECORD_KEYS,
  splitChecksum,
  TRAILER_KEYS,
} from './format.js';
import type { Line } from './lines.js';

/** What a complete, verified archive holds; the second pass checks each record against `digests`. */
export interface ArchiveSummary {
  header: ArchiveHeader;
  records: number;
  states: number;
  historyRecords: number;
  /** The trailer's checksum, hex. */
  sha256: string;
  /** The ids of the archive's states (lower-case). */
  ids: Set<PluginId>;
  digests: DigestList;
}

const TRAILER_START = Buffer.from('{"trailer"');

/**
 * The first pass of a restore: checks every line of an archive as it streams by — format, each
 * record's checksum and shape, the grouping of records, the trailer's count and checksum — and
 * keeps only ids and digests. `check` throws an `IntegrityError` (damaged bytes, truncation, a
 * wrong count) or a `SerializationError` (anything not shaped as the format says) naming the line.
 */
export class ArchiveChecker {
  private readonly hash = createHash('sha256');
  private readonly ids = new Set<PluginId>();
  private readonly digests = new DigestList();
  private header: ArchiveHeader | undefined;
  private trailerSeen = false;
  private sha256 = '';
  private records = 0;
  private states = 0;
  private historyRecords = 0;
  private lastLine = 0;
  /** The id whose records are being read, until its current record closes the group. */
  private openGroup: { pluginId: PluginId; revision: number } | undefined;

  constructor(
    private readonly name: string,
    private readonly limits: StateLimits,
  ) {}

  /** Records checked so far. */
  get checked(): number {
    return this.records;
  }

  check(line: Line): void {
    this.lastLine = line.number;
    if (this.trailerSeen) {
      throw shapeError(
        this.name,
        line.number,
        'there is more after the trailer line, which must be the last',
      );
    }
    if (line.number === 1) {
      this.readHeader(line);
    } else if (line.bytes.subarray(0, TRAILER_START.length).equals(TRAILER_START)) {
      this.readTrailer(line);
      return;
    } else {
      if (!line.terminated) throw truncated(this.name, line.number, 'in the middle of line');
      this.readRecord(line);
    }
    this.hash.update(line.bytes);
    this.hash.update('\n');
  }

  /** The summary of a complete archive; an archive without its trailer is truncated. */
  finish(): ArchiveSummary {
    if (!this.header) throw shapeError(this.name, 1, 'the archive is empty');
    if (!this.trailerSeen) throw truncated(this.name, this.lastLine, 'after line');
    return {
      header: this.header,
      records: this.records,
      states: this.states,
      historyRecords: this.historyRecords,
      sha256: this.sha256,
      ids: this.ids,
      digests: this.digests,
    };
  }

  private readHeader(line: Line): void {
    const fail = (reason: string) => shapeError(this.name, 1, reason);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(line.bytes.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw fail(`it is not a ${ARCHIVE_FORMAT} archive (its first line is not JSON)`);
    }
    if (header === null || typeof header !== 'object' || header.format !== ARCHIVE_FORMAT) {
      throw fail(
        `it is not a ${ARCHIVE_FORMAT} archive (its first line has no "format": "${ARCHIVE_FORMAT}")`,
      );
    }
    if (header.version !== ARCHIVE_VERSION) {
      const newer = typeof header.version === 'number' && header.version > ARCHIVE_VERSION;
      throw fail(
        `the archive has format version ${JSON.stringify(header.version)}; this library reads version ${ARCHIVE_VERSION}` +
          (newer ? ' (the archive was written by a newer plugin-state: restore it with that version)' : ''),
      );
    }
    checkKeys(header, HEADER_KEYS, fail);
    if (!isIsoTimestamp(header.createdAt)) throw fail('"createdAt" is not an ISO 8601 timestamp');
    if (typeof header.source !== 'string') throw fail('"source" is not a string');
    if (typeof header.history !== 'boolean') throw fail('"history" is not true or false');
    if (!line.terminated) throw truncated(this.name, 1, 'after line');
    this.header = header as unknown as ArchiveHeader;
  }

  private readRecord(line: Line): void {
    const { record, digest } = parseRecordLine(line, this.name, this.limits);
    const fail = (reason: string) => shapeError(this.name, line.number, reason, record.pluginId);
    const group = this.openGroup;
    if (group && group.pluginId !== record.pluginId) {
      throw fail(`the records of plugin ${group.pluginId} before it end without its current record`);
    }
    if (!group && this.ids.has(record.pluginId)) {
      throw fail(`plugin ${record.pluginId} already had its records earlier in the archive`);
    }
    if (group && record.revision <= group.revision) {
      throw fail(
        `revision ${record.revision} does not follow revision ${group.revision}: a state's records go oldest first`,
      );
    }
    if (!record.current && !this.header!.history) {
      throw fail('a history record (current: false) in an archive whose header says "history": false');
    }
    this.ids.add(record.pluginId);
    this.digests.push(digest);
    this.records++;
    if (record.current) {
      this.states++;
      this.openGroup = undefined;
    } else {
      this.historyRecords++;
      this.openGroup = { pluginId: record.pluginId, revision: record.revision };
    }
  }

  private readTrailer(line: Line): void {
    const fail = (reason: string) => shapeError(this.name, line.number, reason);
    let trailer: Record<string, unknown>;
    try {
      trailer = JSON.parse(line.bytes.toString('utf8')) as Record<string, unknown>;
    } catch {
      if (!line.terminated) throw truncated(this.name, line.number, 'in the middle of line');
      throw fail('the trailer line is not JSON');
    }
    checkKeys(trailer, TRAILER_KEYS, fail);
    if (trailer.trailer !== ARCHIVE_FORMAT) throw fail(`"trailer" must be "${ARCHIVE_FORMAT}"`);
    for (const key of ['records', 'states'] as const) {
      const value = trailer[key];
      if (!Number.isSafeInteger(value) || (value as number) < 0) throw fail(`"${key}" is not a whole number`);
    }
    if (typeof trailer.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(trailer.sha256)) {
      throw fail('"sha256" is not 64 lower-case hex digits');
    }
    if (this.openGroup) {
      throw shapeError(
        this.name,
        line.number,
        `the records of plugin ${this.openGroup.pluginId} end without its current record`,
      );
    }
    const damaged = (reason: string) => integrityError(this.name, line.number, reason);
    if (trailer.records !== this.records) {
      throw damaged(`the trailer counts ${trailer.records} records, but the archive holds ${this.records}`);
    }
    if (trailer.states !== this.states) {
      throw damaged(`the trailer counts ${trailer.states} states, but the archive holds ${this.states}`);
    }
    const actual = this.hash.digest('hex');
    if (actual !== trailer.sha256) {
      throw damaged(
        `the archive's checksum does not match: the lines before the trailer hash to ${actual}, the trailer says ${trailer.sha256}`,
      );
    }
    this.sha256 = actual;
    this.trailerSeen = true;
  }
}

/**
 * Checks one record line: its checksum over its exact bytes first (so a damaged byte is an
 * `IntegrityError`), then its shape, id, numbers, date and data (a `SerializationError`). Returns
 * the record with a lower-case id, and the SHA-256 its line carries (which identifies the line).
 */
export function parseRecordLine(
  line: Line,
  name: string,
  limits: StateLimits,
): { record: ArchiveRecord; digest: Buffer } {
  const fail = (reason: string, pluginId?: PluginId) => shapeError(name, line.number, reason, pluginId);
  const parts = splitChecksum(line.bytes);
  if (!parts) {
    throw fail('a record line must end with ,"sha256":"<64 lower-case hex digits>"}');
  }
  const bodyDigest = createHash('sha256').update(parts.body).digest();
  if (bodyDigest.toString('hex') !== parts.claimed) {
    throw integrityError(
      name,
      line.number,
      `the record's checksum does not match: its bytes hash to ${bodyDigest.toString('hex')}, its "sha256" says ${parts.claimed}`,
    );
  }
  if (!isUtf8(parts.body)) throw fail('the record is not valid UTF-8');
  let parsed: unknown;
  try {
    parsed = parseStoredJson(parts.body, limits);
  } catch (error) {
    if (error instanceof JsonDecodeError) throw fail(`the record is not valid: ${error.message}`);
    throw error;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw fail('the record is not a JSON object');
  }
  const record = parsed as Record<string, unknown>;
  checkKeys(record, RECORD_KEYS, fail);
  if (!isPluginId(record.pluginId)) {
    const shown =
      typeof record.pluginId === 'string'
        ? JSON.stringify(record.pluginId.slice(0, 80))
        : typeof record.pluginId;
    throw fail(`"pluginId" ${shown} is not a UUID`);
  }
  const pluginId = record.pluginId.toLowerCase();
  for (const key of ['revision', 'version'] as const) {
    const value = record[key];
    if (!Number.isSafeInteger(value) || (value as number) < 1) {
      throw fail(`"${key}" must be a whole number >= 1, got ${JSON.stringify(value)}`, pluginId);
    }
  }
  if (!isIsoTimestamp(record.lastModified))
    throw fail('"lastModified" is not an ISO 8601 timestamp', pluginId);
  if (typeof record.current !== 'boolean') throw fail('"current" is not true or false', pluginId);
  const bytes = exceedsBytes(JSON.stringify(record.data), limits.maxBytes);
  if (bytes !== undefined) {
    throw fail(`its data is ${bytes} bytes serialized, over the limit of ${limits.maxBytes}`, pluginId);
  }
  return {
    record: {
      pluginId,
      revision: record.revision as number,
      version: record.version as number,
      lastModified: record.lastModified,
      current: record.current,
      data: record.data as JsonValue,
    },
    // The line is its body with the body's own checksum appended: this digest identifies it.
    digest: bodyDigest,
  };
}

function checkKeys(
  value: Record<string, unknown>,
  expected: readonly string[],
  fail: (reason: string) => Error,
): void {
  const keys = Object.keys(value);
  const missing = expected.filter((key) => !Object.hasOwn(value, key));
  const unknown = keys.filter((key) => !expected.includes(key));
  if (missing.length > 0 || unknown.length > 0) {
    const problems = [
      missing.length > 0 ? `missing ${missing.map((key) => `"${key}"`).join(', ')}` : '',
      unknown.length > 0 ? `unknown ${unknown.map((key) => JSON.stringify(key)).join(', ')}` : '',
    ].filter(Boolean);
    throw fail(`its keys are wrong (${problems.join('; ')}); expected ${expected.join(', ')}`);
  }
}
