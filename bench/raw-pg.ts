// The PostgreSQL reference line, for context: node-postgres with a plain `pg.Pool` and prepared
// statements, no checks, on a table shaped like the library's. save = one prepared
// `INSERT … ON CONFLICT (plugin_id) DO UPDATE` of JSON.stringify(data) into a text column;
// load = prepared SELECT + JSON.parse; list = SELECT of every row + JSON.parse of each.
import pg from 'pg';
import type { JsonValue } from '../src/index.js';
import { quoteIdentifier } from './postgres-env.js';

export class RawPg {
  private readonly pool: pg.Pool;
  private readonly table: string;
  /** Prefix of the prepared statements' names (unique per table, well under 63 characters). */
  private readonly tag: string;

  private constructor(url: string, schema: string, table: string) {
    this.pool = new pg.Pool({ connectionString: url, connectionTimeoutMillis: 5_000 });
    this.pool.on('error', () => undefined); // an idle connection dropped by the server: the next query reconnects
    this.table = `${quoteIdentifier(schema)}.${quoteIdentifier(table)}`;
    this.tag = `raw-${table}`;
  }

  /** A pool on `schema.table`, the table created if missing. */
  static async open(url: string, schema: string, table: string): Promise<RawPg> {
    const raw = new RawPg(url, schema, table);
    try {
      await raw.pool.query(
        `CREATE TABLE IF NOT EXISTS ${raw.table} (plugin_id uuid PRIMARY KEY, version bigint NOT NULL, ` +
          'revision bigint NOT NULL, last_modified bigint NOT NULL, data text NOT NULL)',
      );
    } catch (error) {
      await raw.pool.end().catch(() => undefined);
      throw error;
    }
    return raw;
  }

  async save(id: string, data: JsonValue): Promise<void> {
    await this.pool.query({
      name: `${this.tag}-upsert`,
      text:
        `INSERT INTO ${this.table} AS stored (plugin_id, version, revision, last_modified, data) ` +
        'VALUES ($1, 1, 1, $2, $3) ON CONFLICT (plugin_id) DO UPDATE SET revision = stored.revision + 1, ' +
        'last_modified = EXCLUDED.last_modified, data = EXCLUDED.data',
      values: [id, Date.now(), JSON.stringify(data)],
    });
  }

  async load(id: string): Promise<JsonValue | undefined> {
    const result = await this.pool.query({
      name: `${this.tag}-load`,
      text: `SELECT data FROM ${this.table} WHERE plugin_id = $1`,
      values: [id],
      rowMode: 'array',
    });
    const row = result.rows[0] as [string] | undefined;
    return row === undefined ? undefined : (JSON.parse(row[0]) as JsonValue);
  }

  async delete(id: string): Promise<void> {
    await this.pool.query({
      name: `${this.tag}-delete`,
      text: `DELETE FROM ${this.table} WHERE plugin_id = $1`,
      values: [id],
    });
  }

  async list(): Promise<JsonValue[]> {
    const result = await this.pool.query({
      name: `${this.tag}-list`,
      text: `SELECT data FROM ${this.table}`,
      rowMode: 'array',
    });
    return (result.rows as [string][]).map(([text]) => JSON.parse(text) as JsonValue);
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
