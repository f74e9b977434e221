import {
  ConflictError,
  IntegrityError,
  PluginStateError,
  SerializationError,
  StorageError,
  ValidationError,
  VersionIncompatibilityError,
} from '../errors.js';
import { isPluginId } from '../ids.js';
import { findJsonIssues } from '../json.js';
import { KeyedQueue } from '../keyed-queue.js';
import { MAX_CONFIGURABLE_DEPTH } from '../limits.js';
import { checkPlugin, type Plugin } from '../plugin.js';
import type { Reporter } from '../report.js';
import type { PluginStateStorage } from '../storage.js';
import type { JsonValue, PluginId, PluginState } from '../types.js';
import { migrate, missingStep, missingStepError, newerThanContract, stepsBetween } from './migration.js';
import type { MigrationOutcome, MigrationPlan } from './migration-report.js';
import { checkSchema } from './schema-check.js';
import { type ResolvedContract, resolveContract } from './state-contract.js';

/** What to do when a stored state cannot be handed to its plugin (see `ManagerOptions`). */
export type InvalidStatePolicy = 'throw' | 'default';

/** Returns the referenced ids that do not exist (not registered, or nothing stored). */
export type ReferenceCheck = (ids: readonly PluginId[]) => Promise<PluginId[]>;

/** Marks "leave the plugin untouched" apart from any value a state or default may hold. */
const NOTHING: unique symbol = Symbol('nothing');

/** How often a migration is tried again when another writer saved the state meanwhile. */
const MIGRATION_ATTEMPTS = 5;

/**
 * Saves and loads plugins through their state contracts: schema checks, version stamps, migration
 * with compare-and-set, defaults, the invalid-state policy and reference checks. The managers
 * delegate every plugin-level operation here; raw record operations bypass it.
 */
export class ContractedStates {
  /** Loads and migrations of one plugin run one at a time, so one process migrates a state once. */
  private readonly queue = new KeyedQueue();
  referenceCheck: ReferenceCheck;

  constructor(
    private readonly storage: PluginStateStorage,
    private readonly reporter: Reporter,
    private readonly policy: InvalidStatePolicy,
  ) {
    this.referenceCheck = (ids) => this.missingStates(ids);
  }

  async save(plugin: Plugin<unknown>, operation: string): Promise<void> {
    const pluginId = checkPlugin(plugin, operation);
    const contract = resolveContract(plugin.stateContract, pluginId, operation);
    const data = await plugin.getState();
    const value = await this.conforming(pluginId, contract, data, operation);
    await this.checkReferences(pluginId, contract, value, operation);
    await this.storage.saveState(
      { pluginId, data: value as JsonValue, version: contract.version, lastModified: new Date() },
      { maxStoredVersion: contract.version },
    );
  }

  load(plugin: Plugin<unknown>, operation: string): Promise<void> {
    const pluginId = checkPlugin(plugin, operation);
    const contract = resolveContract(plugin.stateContract, pluginId, operation);
    return this.queue.run(pluginId, async () => {
      const data = await this.loadThrough(pluginId, contract, operation);
      if (data !== NOTHING) await plugin.setState(data);
    });
  }

  async plan(plugin: Plugin<unknown>, operation: string): Promise<MigrationPlan> {
    const pluginId = checkPlugin(plugin, operation);
    const contract = resolveContract(plugin.stateContract, pluginId, operation);
    const stored = await this.storage.loadState(pluginId);
    const toVersion = contract.version;
    if (!stored) return { pluginId, status: 'nothing-stored', toVersion, steps: [] };
    const fromVersion = stored.version ?? 1;
    const base = { pluginId, fromVersion, toVersion, revision: stored.revision ?? 0 };
    if (fromVersion > toVersion) {
      return {
        ...base,
        status: 'incompatible',
        steps: [],
        error: newerThanContract(pluginId, fromVersion, contract, operation),
      };
    }
    if (fromVersion === toVersion) return { ...base, status: 'current', steps: [] };
    const steps = stepsBetween(fromVersion, toVersion);
    const gap = missingStep(contract, fromVersion);
    if (gap !== undefined) {
      return {
        ...base,
        status: 'incompatible',
        steps,
        error: missingStepError(pluginId, fromVersion, gap, contract, operation),
      };
    }
    return { ...base, status: 'migrate', steps };
  }

  /** Migrates one plugin's stored state if it needs it; never calls `setState`, never throws. */
  async migrateStored(
    plugin: Plugin<unknown>,
    dryRun: boolean,
    operation: string,
  ): Promise<MigrationOutcome> {
    let pluginId: PluginId;
    try {
      pluginId = checkPlugin(plugin, operation);
    } catch (error) {
      return { pluginId: String((plugin as { id?: unknown })?.id), status: 'failed', steps: [], error };
    }
    return this.queue.run(pluginId, async () => {
      let toVersion: number | undefined;
      try {
        const contract = resolveContract(plugin.stateContract, pluginId, operation);
        toVersion = contract.version;
        for (let attempt = 1; ; attempt++) {
          const stored = await this.storage.loadState(pluginId);
          if (!stored) return { pluginId, status: 'nothing-stored', toVersion, steps: [] };
          const fromVersion = stored.version ?? 1;
          if (fromVersion > toVersion) throw newerThanContract(pluginId, fromVersion, contract, operation);
          if (fromVersion === toVersion)
            return { pluginId, status: 'current', fromVersion, toVersion, steps: [] };
          const steps = stepsBetween(fromVersion, toVersion);
          const value = await migrate(stored, contract, operation);
          if (dryRun)
            return {
              pluginId,
              status: 'would-migrate',
              fromVersion,
              toVersion,
              steps,
              revision: stored.revision,
            };
          const saved = await this.saveMigrated(stored, contract, value, attempt, operation);
          if (saved)
            return { pluginId, status: 'migrated', fromVersion, toVersion, steps, revision: saved.revision };
        }
      } catch (error) {
        this.reporter.failure(operation, pluginId, error);
        return {
          pluginId,
          status: 'failed',
          ...(toVersion === undefined ? {} : { toVersion }),
          steps: [],
          error,
        };
      }
    });
  }

  /** The data to hand to the plugin, or NOTHING to leave it alone. */
  private async loadThrough(
    pluginId: PluginId,
    contract: ResolvedContract,
    operation: string,
  ): Promise<unknown> {
    for (let attempt = 1; ; attempt++) {
      let stored: PluginState | undefined;
      try {
        stored = await this.storage.loadState(pluginId);
      } catch (error) {
        if (error instanceof SerializationError || error instanceof IntegrityError) {
          return this.fallBack(pluginId, contract, error, operation);
        }
        throw error;
      }
      if (!stored) return contract.defaultValue ? this.defaultOf(pluginId, contract, operation) : NOTHING;
      const fromVersion = stored.version ?? 1;
      // Under either policy: a default must never stand in for, and later overwrite, newer data.
      if (fromVersion > contract.version) throw newerThanContract(pluginId, fromVersion, contract, operation);
      if (fromVersion === contract.version) {
        if (!contract.schema) return stored.data;
        const outcome = await checkSchema(contract.schema, stored.data, pluginId, operation);
        if (outcome.ok) return outcome.value;
        const error = new ValidationError(
          `${operation}: the stored state of plugin ${pluginId} (version ${fromVersion}, revision ${stored.revision}) fails its contract's schema ` +
            `(${outcome.issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}). It was left as it is: repair it, ` +
            "or set onInvalidState: 'default' to start such plugins from their default.",
          { pluginId, operation, issues: outcome.issues },
        );
        return this.fallBack(pluginId, contract, error, operation);
      }
      let value: unknown;
      try {
        value = await migrate(stored, contract, operation);
      } catch (error) {
        return this.fallBack(pluginId, contract, error, operation);
      }
      const saved = await this.saveMigrated(stored, contract, value, attempt, operation);
      if (saved) return saved.data;
    }
  }

  /**
   * Saves a migrated state on the revision it was read at, keeping the state it replaces in
   * history (one durable write). Returns undefined when another writer got there first, so the
   * caller reads again (and usually finds the state migrated by that writer).
   */
  private async saveMigrated(
    stored: PluginState,
    contract: ResolvedContract,
    value: unknown,
    attempt: number,
    operation: string,
  ): Promise<PluginState | undefined> {
    const { pluginId } = stored;
    const fromVersion = stored.version ?? 1;
    let saved: PluginState;
    try {
      saved = await this.storage.saveState(
        { pluginId, data: value as JsonValue, version: contract.version, lastModified: new Date() },
        { expectedRevision: stored.revision ?? 0, maxStoredVersion: contract.version, keepReplaced: true },
      );
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      if (attempt < MIGRATION_ATTEMPTS) return undefined;
      throw new StorageError(
        `${operation}: the state of plugin ${pluginId} changed under the migration ${MIGRATION_ATTEMPTS} times in a row; nothing was overwritten. Try again once other writers are idle.`,
        { pluginId, operation, cause: error },
      );
    }
    // A storage without history cannot keep the state before the migration: say so every time.
    const kept =
      typeof this.storage.listRevisions === 'function'
        ? `the state before is kept as revision ${stored.revision}.`
        : 'this storage keeps no history, so the state before was NOT kept.';
    this.reporter.send({
      operation: 'migrate',
      pluginId,
      recovered: true,
      message:
        `${operation}: migrated plugin ${pluginId} from version ${fromVersion} to ${contract.version} ` +
        `(steps ${stepsBetween(fromVersion, contract.version).join(', ')}), saved as revision ${saved.revision}; ${kept}`,
    });
    return saved;
  }

  /** Applies the invalid-state policy to a state that cannot be handed to its plugin. */
  private async fallBack(
    pluginId: PluginId,
    contract: ResolvedContract,
    error: unknown,
    operation: string,
  ): Promise<unknown> {
    const newer = error instanceof VersionIncompatibilityError && error.step === undefined;
    // A broken contract is the plugin's bug, not a bad state: a default must not hide it.
    const brokenContract =
      error instanceof ValidationError &&
      error.issues.some((issue) => issue.path.startsWith('stateContract'));
    if (this.policy === 'throw' || newer || brokenContract) throw error;
    const code = error instanceof PluginStateError ? error.code : undefined;
    const reason = error instanceof Error ? error.message : String(error);
    const given = contract.defaultValue
      ? 'got its contract default'
      : 'was left as it is (its contract has no default)';
    this.reporter.send({
      operation,
      pluginId,
      ...(code ? { code } : {}),
      error,
      recovered: true,
      message: `${operation}: plugin ${pluginId} ${given} because its stored state could not be used; the stored record was kept untouched. ${reason}`,
    });
    return contract.defaultValue ? this.defaultOf(pluginId, contract, operation) : NOTHING;
  }

  /** A fresh copy of the contract's default, checked like a state: a bad default is a contract bug. */
  private async defaultOf(
    pluginId: PluginId,
    contract: ResolvedContract,
    operation: string,
  ): Promise<unknown> {
    const value = contract.defaultValue!();
    const issues = findJsonIssues(value, MAX_CONFIGURABLE_DEPTH);
    if (issues.length === 0 && !contract.schema) return value;
    const outcome =
      issues.length > 0
        ? { ok: false as const, issues }
        : await checkSchema(contract.schema!, value, pluginId, operation);
    if (outcome.ok) return outcome.value;
    throw new ValidationError(
      `${operation}: the default in the stateContract of plugin ${pluginId} is not a valid state ` +
        `(${outcome.issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}). Fix the contract's default.`,
      { pluginId, operation, issues: outcome.issues },
    );
  }

  /** Checks data against the contract's schema before a save; returns the value to store. */
  private async conforming(
    pluginId: PluginId,
    contract: ResolvedContract,
    data: unknown,
    operation: string,
  ): Promise<unknown> {
    if (!contract.schema) return data;
    const outcome = await checkSchema(contract.schema, data, pluginId, operation);
    if (outcome.ok) return outcome.value;
    throw new ValidationError(
      `${operation}: the state of plugin ${pluginId} fails its contract's schema (version ${contract.version}): ` +
        `${outcome.issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}. Nothing was written.`,
      { pluginId, operation, issues: outcome.issues },
    );
  }

  private async checkReferences(
    pluginId: PluginId,
    contract: ResolvedContract,
    value: unknown,
    operation: string,
  ): Promise<void> {
    if (!contract.references) return;
    const listed = contract.references(value);
    const refused = (message: string, issues: Array<{ path: string; message: string }>) =>
      new ValidationError(`${operation}: the state of plugin ${pluginId} ${message} Nothing was written.`, {
        pluginId,
        operation,
        issues,
      });
    if (!Array.isArray(listed)) {
      throw refused('has a references() that did not return an array of plugin ids.', [
        { path: 'references', message: 'not an array' },
      ]);
    }
    const malformed = listed.filter((id) => !isPluginId(id));
    if (malformed.length > 0) {
      throw refused(
        `points at values that are not plugin ids: ${malformed.map((id) => JSON.stringify(id)).join(', ')}.`,
        [...malformed.map((id) => ({ path: 'references', message: `${JSON.stringify(id)} is not a UUID` }))],
      );
    }
    const ids = [...new Set(listed.map((id: string) => id.toLowerCase()))].filter((id) => id !== pluginId);
    const dangling = ids.length === 0 ? [] : await this.referenceCheck(ids);
    if (dangling.length > 0) {
      throw refused(
        `points at plugins that do not exist: ${dangling.join(', ')}. Register them (or save their states) first, or drop the references.`,
        dangling.map((id) => ({ path: 'references', message: `${id} does not exist` })),
      );
    }
  }

  /** The ids among `ids` with no stored state (the check of a `PluginStateManager`). */
  private async missingStates(ids: readonly PluginId[]): Promise<PluginId[]> {
    const found = await Promise.all(
      ids.map((id) =>
        this.storage.loadState(id).then(
          (state) => state !== undefined,
          (error: unknown) => {
            // A corrupt or undecryptable state still exists: the reference is not dangling.
            if (error instanceof SerializationError || error instanceof IntegrityError) return true;
            throw error;
          },
        ),
      ),
    );
    return ids.filter((_, index) => !found[index]);
  }
}
