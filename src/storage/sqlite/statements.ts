import type { PluginId } from '../../core/types.js';
import type { SqliteDatabase, SqliteStatement } from './driver.js';
import { historyTable, quoted } from './schema.js';

/** Rows up to this size are checked in full (json_valid) before a save replaces them. */
export const FULL_CHECK_BYTES = 64 * 1024;

/** The statements of an open store, prepared once. */
export interface Statements {
  /** `[plugin_id, version, revision, last_modified, data as blob]` of one row. */
  selectOne: SqliteStatement;
  /** The same of every row. */
  selectAll: SqliteStatement;
  /**
   * `[revision, version, intact]`: the stored revision and version, and whether the row is sound
   * enough to be kept in history (else it is copied to `<table>_corrupt` before a save replaces it).
   */
  selectForWrite: SqliteStatement;
  /** The highest whole revision kept in history for an id (undefined when none): one index step. */
  historyTop: SqliteStatement;
  upsert: SqliteStatement;
  remove: SqliteStatement;
  /** Copies the current row of an id into history (replacing a history row of its revision). */
  keep: SqliteStatement;
  /** `(pluginId, pluginId, keep)`: drops all but the newest `keep` revisions of an id from history. */
  prune: SqliteStatement;
  /** Removes the whole history of an id. */
  forget: SqliteStatement;
  /** `(pluginId, pluginId)` → `[current, plugin_id, version, revision, last_modified, size]` of the current row and each kept one. */
  revisions: SqliteStatement;
  /** `(pluginId, revision, pluginId, revision)` → `[current, plugin_id, version, revision, last_modified, data as blob]`, current first. */
  selectRevision: SqliteStatement;
  /** `PRAGMA data_version`: changes when another connection commits (see ListCache). */
  dataVersion: SqliteStatement;
  /** `total_changes()`: this connection's count of changed rows. */
  changes: SqliteStatement;
}

export function prepareStatements(db: SqliteDatabase, table: string): Statements {
  const t = quoted(table);
  const h = quoted(historyTable(table));
  // The data is read as its bytes, so that invalid UTF-8 written by a foreign tool is refused by
  // the parser instead of being silently replaced.
  const columns = 'plugin_id, version, revision, last_modified, CAST(data AS BLOB)';
  return {
    selectOne: db.prepare(`SELECT ${columns} FROM ${t} WHERE plugin_id = ?`).raw(),
    selectAll: db.prepare(`SELECT ${columns} FROM ${t}`).raw(),
    // Intact: metadata of the right types, and data that is JSON text — checked in full by
    // json_valid up to FULL_CHECK_BYTES; above, by its first and last bytes (an object, an array or
    // a string), which catches a cut or overwritten value without parsing megabytes on every save.
    selectForWrite: db
      .prepare(
        `SELECT revision, version, typeof(revision) = 'integer' AND revision >= 1 AND typeof(version) = 'integer' ` +
          `AND version >= 1 AND typeof(last_modified) = 'integer' AND typeof(data) = 'text' AND ` +
          `CASE WHEN octet_length(data) <= ${FULL_CHECK_BYTES} THEN json_valid(data) ` +
          `ELSE hex(substr(CAST(data AS BLOB), 1, 1) || substr(CAST(data AS BLOB), -1)) IN ('7B7D', '5B5D', '2222') END ` +
          `FROM ${t} WHERE plugin_id = ?`,
      )
      .raw(),
    upsert: db.prepare(
      `INSERT INTO ${t} (plugin_id, version, revision, last_modified, data) VALUES (?, ?, ?, ?, ?) ` +
        'ON CONFLICT (plugin_id) DO UPDATE SET version = excluded.version, revision = excluded.revision, ' +
        'last_modified = excluded.last_modified, data = excluded.data',
    ),
    remove: db.prepare(`DELETE FROM ${t} WHERE plugin_id = ?`),
    // Rows of another type (written by a foreign tool) sort above every integer in SQLite: they are
    // left out of the numbering, and never pruned (they are corrupt records, kept for inspection).
    historyTop: db
      .prepare(
        `SELECT revision FROM ${h} WHERE plugin_id = ? AND typeof(revision) = 'integer' ORDER BY revision DESC LIMIT 1`,
      )
      .pluck(),
    keep: db.prepare(
      `INSERT OR REPLACE INTO ${h} (plugin_id, revision, version, last_modified, data) ` +
        `SELECT plugin_id, revision, version, last_modified, data FROM ${t} WHERE plugin_id = ?`,
    ),
    // The cut-off is the (keep + 1)-th newest revision: it and every older one go. With keep = 0
    // that is the newest, so all go; with fewer than keep + 1 kept, there is none, and nothing goes.
    prune: db.prepare(
      `DELETE FROM ${h} WHERE plugin_id = ? AND typeof(revision) = 'integer' AND revision <= ` +
        `(SELECT revision FROM ${h} WHERE plugin_id = ? AND typeof(revision) = 'integer' ` +
        'ORDER BY revision DESC LIMIT 1 OFFSET ?)',
    ),
    forget: db.prepare(`DELETE FROM ${h} WHERE plugin_id = ?`),
    revisions: db
      .prepare(
        `SELECT 1, plugin_id, version, revision, last_modified, length(CAST(data AS BLOB)) FROM ${t} WHERE plugin_id = ? ` +
          `UNION ALL SELECT 0, plugin_id, version, revision, last_modified, length(CAST(data AS BLOB)) FROM ${h} WHERE plugin_id = ?`,
      )
      .raw(),
    selectRevision: db
      .prepare(
        `SELECT 1, ${columns} FROM ${t} WHERE plugin_id = ? AND revision = ? ` +
          `UNION ALL SELECT 0, ${columns} FROM ${h} WHERE plugin_id = ? AND revision = ? ORDER BY 1 DESC LIMIT 1`,
      )
      .raw(),
    dataVersion: db.prepare('PRAGMA data_version').pluck(),
    changes: db.prepare('SELECT total_changes()').pluck(),
  };
}

/** Where a corrupt row goes before a save replaces it. */
export function asideTable(table: string): string {
  return `${table}_corrupt`;
}

/** Copies a corrupt row into `<table>_corrupt` (created on first use); runs inside the save's transaction. */
export function copyAside(db: SqliteDatabase, table: string, pluginId: PluginId): void {
  const aside = quoted(asideTable(table));
  db.prepare(
    `CREATE TABLE IF NOT EXISTS ${aside} (plugin_id TEXT NOT NULL, version, revision, last_modified, data, ` +
      'moved_at INTEGER NOT NULL)',
  ).run();
  db.prepare(
    `INSERT INTO ${aside} (plugin_id, version, revision, last_modified, data, moved_at) ` +
      `SELECT plugin_id, version, revision, last_modified, data, ? FROM ${quoted(table)} WHERE plugin_id = ?`,
  ).run(Date.now(), pluginId);
}
