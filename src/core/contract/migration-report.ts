import type { PluginId } from '../types.js';

/**
 * What a load of a plugin would do, as `planMigration` tells it without writing anything.
 * - `nothing-stored`: the plugin would get its contract's default (or be left alone).
 * - `current`: the stored state is at the contract's version.
 * - `migrate`: the steps in `steps` would run, in that order, and the result be saved.
 * - `incompatible`: the load would fail with `error` (a stored version newer than the contract, or a
 *   missing step).
 */
export interface MigrationPlan {
  pluginId: PluginId;
  status: 'nothing-stored' | 'current' | 'migrate' | 'incompatible';
  /** The stored state's version, when something is stored. */
  fromVersion?: number;
  /** The contract's version. */
  toVersion: number;
  /** The versions the steps to run migrate to, e.g. `[2, 3]` from version 1 to 3. */
  steps: number[];
  /** The stored revision the plan was made from. */
  revision?: number;
  error?: Error;
}

/**
 * One plugin's line in the report of `migrateAll`.
 * - `migrated`: migrated and saved at `revision` (the state before is kept as the revision before).
 * - `would-migrate`: with `dryRun`, the steps ran and the result passed the schema; nothing was saved.
 * - `current`, `nothing-stored`: nothing to do.
 * - `failed`: `error` says why; nothing of this plugin was written.
 */
export interface MigrationOutcome {
  pluginId: PluginId;
  status: 'migrated' | 'would-migrate' | 'current' | 'nothing-stored' | 'failed';
  fromVersion?: number;
  toVersion?: number;
  steps: number[];
  revision?: number;
  error?: unknown;
}

/** Options of `migrateAll`. */
export interface MigrateAllOptions {
  /** Runs the steps and checks the results, but saves nothing. */
  dryRun?: boolean;
}
