import { describeError, ValidationError, VersionIncompatibilityError } from '../errors.js';
import { findJsonIssues } from '../json.js';
import { MAX_CONFIGURABLE_DEPTH } from '../limits.js';
import type { JsonValue, PluginId, PluginState } from '../types.js';
import { checkSchema } from './schema-check.js';
import type { ResolvedContract } from './state-contract.js';

/** The versions the steps from `from` to `to` migrate to: `[from + 1, …, to]`. */
export function stepsBetween(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, index) => from + 1 + index);
}

/** The refusal of a state stored at a newer version than the plugin's contract: never overwritten. */
export function newerThanContract(
  pluginId: PluginId,
  storedVersion: number,
  contract: ResolvedContract,
  operation: string,
): VersionIncompatibilityError {
  return new VersionIncompatibilityError(
    `${operation}: plugin ${pluginId} has a stored state of version ${storedVersion}, newer than its contract's ` +
      `version ${contract.version}. It was left as it is: upgrade the plugin to one that knows version ${storedVersion}.`,
    { pluginId, operation, storedVersion, supportedVersion: contract.version },
  );
}

/** The first step a migration from `from` would need and the contract lacks, if any. */
export function missingStep(contract: ResolvedContract, from: number): number | undefined {
  return stepsBetween(from, contract.version).find((to) => !contract.steps.has(to));
}

export function missingStepError(
  pluginId: PluginId,
  from: number,
  step: number,
  contract: ResolvedContract,
  operation: string,
): VersionIncompatibilityError {
  return new VersionIncompatibilityError(
    `${operation}: plugin ${pluginId} has a stored state of version ${from}, but its contract (version ${contract.version}) ` +
      `has no migration step ${step} (from version ${step - 1} to ${step}). The state was left as it is: add migrations[${step}] to the contract.`,
    { pluginId, operation, storedVersion: from, supportedVersion: contract.version, step },
  );
}

/**
 * Runs the steps that bring `stored` up to the contract's version, then checks the result against
 * the schema. Touches no storage: the caller saves the result only when every step succeeded.
 * Returns the value to store (a Standard Schema's output when there is a schema).
 */
export async function migrate(
  stored: PluginState,
  contract: ResolvedContract,
  operation: string,
): Promise<unknown> {
  const { pluginId } = stored;
  const from = stored.version ?? 1;
  const gap = missingStep(contract, from);
  if (gap !== undefined) throw missingStepError(pluginId, from, gap, contract, operation);
  let data: JsonValue = stored.data;
  for (const to of stepsBetween(from, contract.version)) {
    const step = contract.steps.get(to)!;
    const where = `step ${to} (version ${to - 1} to ${to}) of the migration of plugin ${pluginId} from version ${from} to ${contract.version}`;
    let output: unknown;
    try {
      output = await step(data, {
        pluginId,
        fromVersion: to - 1,
        toVersion: to,
        storedVersion: from,
        revision: stored.revision ?? 0,
      });
    } catch (error) {
      throw new VersionIncompatibilityError(
        `${operation}: ${where} threw: ${describeError(error)}. The stored state was left as it is; fix migrations[${to}].`,
        {
          pluginId,
          operation,
          storedVersion: from,
          supportedVersion: contract.version,
          step: to,
          cause: error,
        },
      );
    }
    const issues = findJsonIssues(output, MAX_CONFIGURABLE_DEPTH);
    if (issues.length > 0) {
      const listed = issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
      throw new ValidationError(
        `${operation}: ${where} returned a value that is not plain JSON (${listed}). The stored state was left as it is; fix migrations[${to}].`,
        { pluginId, operation, issues },
      );
    }
    data = output as JsonValue;
  }
  if (!contract.schema) return data;
  const outcome = await checkSchema(contract.schema, data, pluginId, operation);
  if (outcome.ok) return outcome.value;
  throw new ValidationError(
    `${operation}: the result of migrating plugin ${pluginId} from version ${from} to ${contract.version} fails the contract's schema ` +
      `(${outcome.issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}). The stored state was left as it is; fix the migration steps.`,
    { pluginId, operation, issues: outcome.issues },
  );
}
