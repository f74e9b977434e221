// The backup archive format, version 1: NDJSON (one JSON value per line, UTF-8, "\n" after every
// line), readable with `head`, `jq` and `sha256sum`, written and read one line at a time.
//
//   line 1       header   {"format":"plugin-state-backup","version":1,"createdAt":"<ISO>","source":"<text>","history":false}
//   lines 2..n+1 records  {"pluginId":"<uuid>","revision":3,"version":1,"lastModified":"<ISO>","current":true,"data":<JSON>,"sha256":"<hex>"}
//   last line    trailer  {"trailer":"plugin-state-backup","records":<n>,"states":<m>,"sha256":"<hex>"}
//
// A record's `sha256` is the SHA-256 of its own line as written, without the `,"sha256":"…"` at
// its end (that is: the line with its last 77 bytes replaced by `}`). So the checksum covers the
// exact bytes, not a re-serialization (which would change numbers such as 12345678901234567890),
// and can be checked by hand:
//
//   sed -n 2p backup.ndjson | sed -E 's/,"sha256":"[0-9a-f]{64}"\}$/}/' | tr -d '\n' | sha256sum
//
// The trailer's `sha256` is the SHA-256 of every byte before the trailer line (the header and every
// record line, each with its "\n"), so it also binds the header and the order of the records; its
// `records` counts the record lines and `states` the records with `current: true`
// (`head -n -1 backup.ndjson | sha256sum`). A missing trailer means the archive is truncated.
//
// Records are ordered by plugin id. Without history each state is one record (`current: true`).
// With history, a state's kept revisions come first, oldest first (`current: false`), and its
// current revision last: the records of one id are contiguous, their revisions strictly increase,
// and exactly the last one is current. Every key listed above is required and no other is allowed.

import { createHash } from 'node:crypto';
import type { JsonValue, PluginId } from '../core/types.js';

export const ARCHIVE_FORMAT = 'plugin-state-backup';
export const ARCHIVE_VERSION = 1;

export interface ArchiveHeader {
  format: typeof ARCHIVE_FORMAT;
  version: typeof ARCHIVE_VERSION;
  /** When the backup started, ISO 8601. */
  createdAt: string;
  /** What the backup was taken from, for people reading the archive. */
  source: string;
  /** Whether kept revisions (history) are in the archive as well as current states. */
  history: boolean;
}

export interface ArchiveRecord {
  pluginId: PluginId;
  /** The revision the record had in the store it was backed up from. */
  revision: number;
  version: number;
  /** ISO 8601. */
  lastModified: string;
  /** True for the state's current revision, false for one kept in history. */
  current: boolean;
  data: JsonValue;
}

export interface ArchiveTrailer {
  trailer: typeof ARCHIVE_FORMAT;
  records: number;
  states: number;
  sha256: string;
}

/** The keys of each line, in the order they are written. */
export const HEADER_KEYS = ['format', 'version', 'createdAt', 'source', 'history'] as const;
export const RECORD_KEYS = ['pluginId', 'revision', 'version', 'lastModified', 'current', 'data'] as const;
export const TRAILER_KEYS = ['trailer', 'records', 'states', 'sha256'] as const;

/** `,"sha256":"` + 64 hex digits + `"}`: how every record line ends. */
const CHECKSUM_SUFFIX_BYTES = 77;
const CHECKSUM_SUFFIX = /,"sha256":"([0-9a-f]{64})"\}$/;

/** Room a record line takes beyond its data: keys, id, numbers, dates and the checksum. */
export const RECORD_OVERHEAD_BYTES = 512;

export function headerLine(header: ArchiveHeader): string {
  const { format, version, createdAt, source, history } = header;
  return `${JSON.stringify({ format, version, createdAt, source, history })}\n`;
}

/** A record line, with its checksum, from data already serialized as `dataJson`. */
export function recordLine(record: Omit<ArchiveRecord, 'data'>, dataJson: string): string {
  const { pluginId, revision, version, lastModified, current } = record;
  const head = JSON.stringify({ pluginId, revision, version, lastModified, current });
  const body = `${head.slice(0, -1)},"data":${dataJson}}`;
  return `${body.slice(0, -1)},"sha256":"${sha256Hex(body)}"}\n`;
}

export function trailerLine(trailer: Omit<ArchiveTrailer, 'trailer'>): string {
  const { records, states, sha256 } = trailer;
  return `${JSON.stringify({ trailer: ARCHIVE_FORMAT, records, states, sha256 })}\n`;
}

/**
 * Splits a record line (without its "\n") into the bytes its checksum covers and the checksum it
 * claims; undefined when the line does not end with a checksum.
 */
export function splitChecksum(line: Buffer): { body: Buffer; claimed: string } | undefined {
  if (line.length < CHECKSUM_SUFFIX_BYTES + 2) return undefined;
  const tail = line.subarray(line.length - CHECKSUM_SUFFIX_BYTES).toString('latin1');
  const match = CHECKSUM_SUFFIX.exec(tail);
  if (!match) return undefined;
  const body = Buffer.concat([line.subarray(0, line.length - CHECKSUM_SUFFIX_BYTES), CLOSING_BRACE]);
  return { body, claimed: match[1]! };
}

const CLOSING_BRACE = Buffer.from('}');

function sha256Hex(bytes: string | Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** An ISO 8601 timestamp exactly as `Date.prototype.toISOString` writes it. */
export function isIsoTimestamp(value: unknown): value is string {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(value)) return false;
  const time = Date.parse(value);
  return !Number.isNaN(time) && new Date(time).toISOString() === value;
}
