import { createHash } from 'node:crypto';
import { writeFunctions } from './functions.js';
import type { TableNames } from './options.js';

/** A statement's text, and the name it is prepared under on each connection (when prepared). */
export interface Statement {
  text: string;
  name?: string;
}

/**
 * The statements of one table and its history. Each is one statement, one round trip. The writes
 * call the table's functions (functions.ts), which take the plugin id's advisory lock and then
 * check, keep, prune and write in the statement's own transaction, so the revision check, the
 * `maxStoredVersion` check and history are one atomic step, whichever instance sends them.
 *
 * `save` takes $1 plugin_id, $2 version, $3 last_modified (ms), $4 data (JSON text), $5 the
 * expected revision or NULL, $6 maxStoredVersion or NULL, $7 the revisions to keep in history,
 * $8 and $9 the advisory lock's key, $10 the longest wait for it (ms); it returns the stored
 * revision and version before (NULL: none) and the new revision (NULL: refused, nothing written).
 *
 * With `prepare`, each gets a name derived from its text, so node-postgres parses and plans it once
 * per connection (about a quarter off a save's latency); the name cannot collide with another
 * table's statement, or with the host's own on a shared pool.
 */
export function statements(names: TableNames, prepare: boolean) {
  const { qualified: t, history: h } = names;
  const f = writeFunctions(names);
  const columns = 'plugin_id, version, revision, last_modified, data';
  const texts = {
    save: `SELECT stored_revision, stored_version, new_revision FROM ${f.save}($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    /** $1 plugin_id, $2 revisions to keep, $3 $4 the lock's key, $5 the longest wait for it. */
    remove: `SELECT ${f.remove}($1, $2, $3, $4, $5)`,
    /** $1 plugin_id, $2 $3 the lock's key, $4 the longest wait for it. */
    purge: `SELECT ${f.purge}($1, $2, $3, $4)`,
    load: `SELECT version, revision, last_modified, data FROM ${t} WHERE plugin_id = $1`,
    list: `SELECT ${columns} FROM ${t} ORDER BY plugin_id`,
    /** `[current, version, revision, last_modified, bytes]` of the current row and each kept one, in one snapshot. */
    revisions: `SELECT true, version, revision, last_modified, octet_length(data) FROM ${t} WHERE plugin_id = $1
      UNION ALL SELECT false, version, revision, last_modified, octet_length(data) FROM ${h} WHERE plugin_id = $1`,
    /** `[current, version, revision, last_modified, data]` of revision $2, the current row first. */
    revision: `SELECT true, version, revision, last_modified, data FROM ${t} WHERE plugin_id = $1 AND revision = $2
      UNION ALL SELECT false, version, revision, last_modified, data FROM ${h} WHERE plugin_id = $1 AND revision = $2
      ORDER BY 1 DESC LIMIT 1`,
  };
  const named = (text: string): Statement =>
    prepare
      ? { text, name: `plugin-state-${createHash('sha256').update(text).digest('hex').slice(0, 24)}` }
      : { text };
  return {
    save: named(texts.save),
    remove: named(texts.remove),
    purge: named(texts.purge),
    load: named(texts.load),
    list: named(texts.list),
    revisions: named(texts.revisions),
    revision: named(texts.revision),
  };
}
