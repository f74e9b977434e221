// The SQLite reference line: the least a durable per-state row store on better-sqlite3 must do,
// written by hand with no checks: its own database file in WAL mode with synchronous=FULL (each
// autocommitted statement fsyncs the write-ahead log), a table shaped like the library's, and
// prepared statements. save = one `INSERT … ON CONFLICT(plugin_id) DO UPDATE` of JSON.stringify(data);
// load = prepared SELECT + JSON.parse; list = SELECT of every row + JSON.parse of each.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { JsonValue } from '../src/index.js';

export const RAW_SQLITE_FILE = 'raw.db';

export class RawSqlite {
  private readonly db: Database.Database;
  private readonly upsert: Database.Statement;
  private readonly selectOne: Database.Statement;
  private readonly selectAll: Database.Statement;
  private readonly remove: Database.Statement;

  constructor(dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.db = new Database(join(dir, RAW_SQLITE_FILE));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS states (plugin_id TEXT PRIMARY KEY, version INTEGER NOT NULL, ' +
        'revision INTEGER NOT NULL, last_modified INTEGER NOT NULL, data TEXT NOT NULL)',
    );
    this.upsert = this.db.prepare(
      'INSERT INTO states (plugin_id, version, revision, last_modified, data) VALUES (?, 1, 1, ?, ?) ' +
        'ON CONFLICT(plugin_id) DO UPDATE SET revision = revision + 1, ' +
        'last_modified = excluded.last_modified, data = excluded.data',
    );
    this.selectOne = this.db.prepare('SELECT data FROM states WHERE plugin_id = ?').pluck();
    this.selectAll = this.db.prepare('SELECT data FROM states').pluck();
    this.remove = this.db.prepare('DELETE FROM states WHERE plugin_id = ?');
  }

  save(id: string, data: JsonValue): void {
    this.upsert.run(id, Date.now(), JSON.stringify(data));
  }

  load(id: string): JsonValue | undefined {
    const text = this.selectOne.get(id) as string | undefined;
    return text === undefined ? undefined : (JSON.parse(text) as JsonValue);
  }

  delete(id: string): void {
    this.remove.run(id);
  }

  list(): JsonValue[] {
    return (this.selectAll.all() as string[]).map((text) => JSON.parse(text) as JsonValue);
  }

  close(): void {
    this.db.close();
  }
}
