import { ValidationError } from '../errors.js';
import type { JsonValue, PluginId } from '../types.js';
import type { JsonSchema } from './json-schema.js';
import { isStandardSchema, type StateSchema } from './schema-check.js';
import type { StandardSchemaV1 } from './standard-schema.js';

/** What a migration step is told besides the data it migrates. */
export interface MigrationContext {
  pluginId: PluginId;
  /** The version the step migrates from (its key minus 1). */
  fromVersion: number;
  /** The version the step migrates to (its key). */
  toVersion: number;
  /** The version of the stored state the whole migration started from. */
  storedVersion: number;
  /** The storage revision the migration started from. */
  revision: number;
}

/**
 * Turns data of version `toVersion - 1` into data of version `toVersion`; may be async. The data
 * comes from storage, so it is `unknown` until the step says what it expects: annotate the
 * parameter (`(data: V1) => …`) or cast it. What it returns is checked to be plain JSON.
 */
// Declared as a method and read back as a function type, so that a step may annotate its own
// parameter type (methods are checked bivariantly; a plain function type would refuse `(data: V1)`).
export type MigrationStep = {
  step(data: unknown, context: MigrationContext): unknown;
}['step'];

/**
 * A plugin's promise about its state: the schema version it writes, how to bring older stored
 * states up to it, what the data must look like, what to start from, and which plugins it points
 * at. The managers enforce it on every save and load.
 *
 * @example
 * const contract = defineStateContract({
 *   version: 2,
 *   schema: z.object({ theme: z.enum(['light', 'dark']), fontSize: z.number() }),
 *   migrations: { 2: (v1: { dark: boolean }) => ({ theme: v1.dark ? 'dark' : 'light', fontSize: 14 }) },
 *   default: () => ({ theme: 'light', fontSize: 14 }),
 * });
 */
export interface StateContract<T = JsonValue> {
  /** The version of the data this plugin writes and reads: a whole number >= 1. */
  readonly version: number;
  /** A Standard Schema validator (zod, valibot, arktype, …) or a JSON Schema (needs ajv). */
  readonly schema?: StateSchema<T>;
  /** `migrations[n]` turns a state of version n - 1 into version n, for n from 2 to `version`. */
  readonly migrations?: { readonly [toVersion: number]: MigrationStep };
  /** Handed to the plugin when nothing is stored (not saved until the plugin saves). */
  readonly default?: T | (() => T);
  /** The plugin ids this state points at; a save whose targets do not exist is refused. */
  references?(data: T): readonly PluginId[];
}

/**
 * Declares a contract and lets TypeScript infer the state's type from a Standard Schema, so that
 * `default`, `references` and the plugin's `getState`/`setState` are checked against it.
 *
 * @example
 * const contract = defineStateContract({ version: 1, schema: v.object({ count: v.number() }), default: { count: 0 } });
 * const counter: Plugin<v.InferOutput<typeof schema>> = { id, stateContract: contract, ... };
 */
export function defineStateContract<S extends StandardSchemaV1>(
  contract: Omit<StateContract<StandardSchemaV1.InferOutput<S>>, 'schema'> & { readonly schema: S },
): StateContract<StandardSchemaV1.InferOutput<S>>;
export function defineStateContract<T = JsonValue>(
  contract: Omit<StateContract<T>, 'schema'> & { readonly schema?: JsonSchema },
): StateContract<T>;
export function defineStateContract(contract: StateContract<unknown>): StateContract<unknown> {
  return contract;
}

/** A contract checked once: the steps as a map and the default as a factory of fresh copies. */
export interface ResolvedContract {
  readonly version: number;
  readonly schema: StateSchema | undefined;
  readonly steps: ReadonlyMap<number, MigrationStep>;
  readonly defaultValue: (() => unknown) | undefined;
  readonly references: ((data: unknown) => readonly PluginId[]) | undefined;
}

/** A plugin without a contract writes and reads version 1, like every state saved before contracts. */
const NO_CONTRACT: ResolvedContract = {
  version: 1,
  schema: undefined,
  steps: new Map(),
  defaultValue: undefined,
  references: undefined,
};

const resolved = new WeakMap<object, ResolvedContract>();

/**
 * Checks a plugin's contract (once per contract object) and returns it in the form the managers
 * use. A malformed contract is a `ValidationError` naming the plugin and the field.
 */
export function resolveContract(contract: unknown, pluginId: PluginId, operation: string): ResolvedContract {
  if (contract === undefined) return NO_CONTRACT;
  const fail = (path: string, message: string) =>
    new ValidationError(
      `${operation}: the stateContract of plugin ${pluginId} is invalid: ${path} ${message}. Fix the plugin's contract.`,
      { pluginId, operation, issues: [{ path: `stateContract${path ? `.${path}` : ''}`, message }] },
    );
  if (contract === null || typeof contract !== 'object') throw fail('', 'must be an object');
  const cached = resolved.get(contract);
  if (cached) return cached;
  const c = contract as Record<string, unknown>;
  const version = c.version;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    throw fail('version', `must be a whole number >= 1, got ${JSON.stringify(version)}`);
  }
  const schema = c.schema;
  if (
    schema !== undefined &&
    typeof schema !== 'boolean' &&
    !isStandardSchema(schema) &&
    (schema === null || typeof schema !== 'object' || Array.isArray(schema))
  ) {
    throw fail(
      'schema',
      'must be a Standard Schema validator (zod, valibot, arktype) or a JSON Schema object',
    );
  }
  const steps = new Map<number, MigrationStep>();
  if (c.migrations !== undefined) {
    if (c.migrations === null || typeof c.migrations !== 'object')
      throw fail('migrations', 'must be an object');
    for (const [key, step] of Object.entries(c.migrations)) {
      const to = Number(key);
      if (!/^[1-9]\d*$/.test(key) || to < 2 || to > version) {
        throw fail(`migrations[${JSON.stringify(key)}]`, `is not a version from 2 to ${version}`);
      }
      if (typeof step !== 'function') throw fail(`migrations[${key}]`, 'must be a function');
      steps.set(to, step as MigrationStep);
    }
  }
  if (c.references !== undefined && typeof c.references !== 'function') {
    throw fail('references', 'must be a function returning plugin ids');
  }
  const fallback = c.default;
  const result: ResolvedContract = {
    version,
    schema: schema as StateSchema | undefined,
    steps,
    defaultValue:
      fallback === undefined
        ? undefined
        : typeof fallback === 'function'
          ? (fallback as () => unknown)
          : () => structuredClone(fallback),
    references:
      c.references === undefined
        ? undefined
        : (data) => (c.references as (d: unknown) => PluginId[]).call(contract, data),
  };
  resolved.set(contract, result);
  return result;
}
