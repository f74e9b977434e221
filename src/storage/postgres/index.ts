// `plugin-state/postgres`: the PostgreSQL backend. Only exports live here; `pg` is loaded on first use.

export type {
  PostgresConnection,
  PostgresPool,
  PostgresPoolClient,
  PostgresQuery,
  PostgresStorageOptions,
} from './options.js';
export { PostgresStateStorage } from './postgres-storage.js';
