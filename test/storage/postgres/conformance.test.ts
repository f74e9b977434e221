// The conformance suite on PostgresStateStorage: on the server PLUGIN_STATE_TEST_POSTGRES_URL names
// (and then also once on PGlite, so both paths stay tested), or on PGlite alone when it is not set.
import { after, describe, it } from 'node:test';
import type { PluginStateStorage } from '../../../src/index.js';
import type { PostgresStateStorage } from '../../../src/storage/postgres/index.js';
import { describeStorageConformance } from '../../../src/testing/index.js';
import {
  PostgresFixture,
  type ServerKind,
  selectedKind,
  serverTitle,
} from '../../helpers/postgres-server.js';

const kinds: ServerKind[] = selectedKind() === 'postgresql' ? ['postgresql', 'pglite'] : ['pglite'];

for (const kind of kinds) {
  const fixture = new PostgresFixture(kind);
  after(() => fixture.cleanup());
  /** The table each store was made on, so a reopen lands on the same one. */
  const tables = new WeakMap<PluginStateStorage, string>();
  const track = (storage: PostgresStateStorage) => {
    tables.set(storage, storage.table);
    return storage;
  };

  describe(`Postgres server: ${serverTitle(kind)}`, () => {
    it('answers, and says which server the suite below runs on', async (t) => {
      const server = await fixture.server();
      t.diagnostic(`server: ${server.version} at ${server.host}:${server.port}, schema ${fixture.schema}`);
    });
  });

  describeStorageConformance(
    `PostgresStateStorage on ${kind === 'pglite' ? 'PGlite' : 'PostgreSQL'}`,
    async (options) => track(await fixture.storage(options)),
    { describe, it, after },
    {
      persistent: true,
      reopen: async (previous, options) =>
        track(await fixture.storage(options, tables.get(previous as PostgresStateStorage))),
      sharedInstances: true,
      corrupt: async (storage, id) => {
        const { schema, table } = storage as PostgresStateStorage;
        await fixture.corruptRow(schema, table, id);
      },
      listWithCorruptRecord: 'skip',
      history: true,
    },
  );
}
