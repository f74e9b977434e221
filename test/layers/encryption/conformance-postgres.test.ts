// The conformance suite through the encryption layer over PostgreSQL storage: on the server that
// PLUGIN_STATE_TEST_POSTGRES_URL names (and then on PGlite too), or on PGlite alone.
import { after, describe, it } from 'node:test';
import type { StateLimits } from '../../../src/core/limits.js';
import type { PluginStateStorage } from '../../../src/index.js';
import { encrypted, envelopeLimits } from '../../../src/layers/encryption/index.js';
import type { PostgresStateStorage } from '../../../src/storage/postgres/index.js';
import { describeStorageConformance } from '../../../src/testing/index.js';
import { PostgresFixture, type ServerKind, selectedKind } from '../../helpers/postgres-server.js';
import { newKey } from './helpers.js';

const kinds: ServerKind[] = selectedKind() === 'postgresql' ? ['postgresql', 'pglite'] : ['pglite'];
const key = newKey('postgres-conformance');

for (const kind of kinds) {
  const fixture = new PostgresFixture(kind);
  after(() => fixture.cleanup());
  /** The storage under each layer, so that a reopen lands on its table and corrupt() can reach it. */
  const inners = new WeakMap<PluginStateStorage, PostgresStateStorage>();

  const layer = (inner: PostgresStateStorage, limits: Partial<StateLimits> | undefined) => {
    const store = encrypted(inner, { key, limits });
    inners.set(store, inner);
    return store;
  };

  // The suite's `history` goes to the PostgreSQL store: history is kept under the layer, encrypted.
  describeStorageConformance(
    `encrypted(PostgresStateStorage) on ${kind === 'pglite' ? 'PGlite' : 'PostgreSQL'}`,
    async ({ limits, history }) =>
      layer(await fixture.storage({ limits: envelopeLimits(limits), history }), limits),
    { describe, it, after },
    {
      persistent: true,
      reopen: async (previous, { limits, history }) =>
        layer(
          await fixture.storage({ limits: envelopeLimits(limits), history }, inners.get(previous)!.table),
          limits,
        ),
      sharedInstances: true,
      corrupt: async (storage, id) => {
        const { schema, table } = inners.get(storage)!;
        await fixture.corruptRow(schema, table, id);
      },
      listWithCorruptRecord: 'skip',
      history: true,
    },
  );
}
