import { createHash } from 'node:crypto';

/** A statement's text, and the name it is prepared under on each connection (when prepared). */
export interface Statement {
  text: string;
  name?: string;
}

/**
 * The statements of one table (`qualified` is its quoted `"schema"."table"`). Each save is a single
 * statement, so the revision check and the write are one atomic step on the server, whichever
 * instance or process sends them. Parameters: $1 plugin_id, $2 version, $3 last_modified (ms),
 * $4 data (JSON text), $5 the expected revision.
 *
 * With `prepare`, each gets a name derived from its text, so node-postgres parses and plans it once
 * per connection (about a quarter off a save's latency); the name cannot collide with another
 * table's statement, or with the host's own on a shared pool.
 */
export function statements(qualified: string, prepare: boolean) {
  const columns = 'plugin_id, version, revision, last_modified, data';
  const texts = {
    /** expectedRevision 0: only if no row exists; no row returned when one does. */
    insertNew: `INSERT INTO ${qualified} (${columns}) VALUES ($1, $2, 1, $3, $4)
      ON CONFLICT (plugin_id) DO NOTHING RETURNING revision`,
    /** expectedRevision n > 0: only if the stored revision is n; no row returned otherwise. */
    updateAt: `UPDATE ${qualified} SET version = $2, revision = revision + 1, last_modified = $3, data = $4
      WHERE plugin_id = $1 AND revision = $5 RETURNING revision`,
    /** No expectedRevision: last writer wins, and still gets its own revision. */
    upsert: `INSERT INTO ${qualified} AS stored (${columns}) VALUES ($1, $2, 1, $3, $4)
      ON CONFLICT (plugin_id) DO UPDATE SET version = EXCLUDED.version, revision = stored.revision + 1,
        last_modified = EXCLUDED.last_modified, data = EXCLUDED.data
      RETURNING revision`,
    revision: `SELECT revision FROM ${qualified} WHERE plugin_id = $1`,
    load: `SELECT version, revision, last_modified, data FROM ${qualified} WHERE plugin_id = $1`,
    list: `SELECT ${columns} FROM ${qualified} ORDER BY plugin_id`,
    remove: `DELETE FROM ${qualified} WHERE plugin_id = $1`,
  };
  const named = (text: string): Statement =>
    prepare
      ? { text, name: `plugin-state-${createHash('sha256').update(text).digest('hex').slice(0, 24)}` }
      : { text };
  return {
    insertNew: named(texts.insertNew),
    updateAt: named(texts.updateAt),
    upsert: named(texts.upsert),
    revision: named(texts.revision),
    load: named(texts.load),
    list: named(texts.list),
    remove: named(texts.remove),
  };
}
