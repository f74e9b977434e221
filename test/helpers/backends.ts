// The durable backends that cross-process tests run against, each as a storage URL.
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { dropSchema, newSchemaName, stopServer, testServer } from './postgres-server.js';

export interface DurableBackend {
  name: string;
  /** A URL of a fresh, empty store for one test; cleanup is registered on `t`. */
  url(dir: string, t: TestContext): Promise<string>;
}

export const durableBackends: DurableBackend[] = [
  { name: 'file', url: async (dir) => `file:${join(dir, 'states')}` },
  { name: 'sqlite', url: async (dir) => `sqlite:${join(dir, 'states.db')}` },
  {
    name: 'postgres',
    url: async (_dir, t) => {
      const server = await testServer();
      const schema = newSchemaName();
      t.after(async () => {
        await dropSchema(server, schema);
        await stopServer(server.kind);
      });
      t.diagnostic(`postgres: ${server.title}`);
      const url = new URL(server.url);
      url.searchParams.set('schema', schema);
      return url.toString();
    },
  },
];
