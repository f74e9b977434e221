import { ValidationError, type ValidationIssue } from '../errors.js';
import { formatPath } from '../json.js';
import type { PluginId } from '../types.js';
import { type JsonSchema, jsonSchemaIssues, jsonSchemaValidator } from './json-schema.js';
import type { StandardSchemaV1 } from './standard-schema.js';

/** What a contract's `schema` may be: any Standard Schema validator, or a JSON Schema. */
export type StateSchema<T = unknown> = StandardSchemaV1<unknown, T> | JsonSchema;

/** The outcome of checking data against a schema: the (possibly transformed) value, or the issues. */
export type SchemaOutcome = { ok: true; value: unknown } | { ok: false; issues: ValidationIssue[] };

export function isStandardSchema(schema: unknown): schema is StandardSchemaV1 {
  const props = (schema as { '~standard'?: { validate?: unknown; version?: unknown } } | null)?.['~standard'];
  return typeof props === 'object' && props !== null && typeof props.validate === 'function';
}

/**
 * Checks `data` against `schema`. A Standard Schema's output is returned as the value (a library
 * may strip unknown keys or fill defaults); a JSON Schema returns `data` itself. A schema that
 * cannot be used at all (a JSON Schema that does not compile, ajv not installed, a validator that
 * throws) is a `ValidationError` about the contract, naming the plugin.
 */
export async function checkSchema(
  schema: StateSchema,
  data: unknown,
  pluginId: PluginId,
  operation: string,
): Promise<SchemaOutcome> {
  try {
    if (isStandardSchema(schema)) {
      let result = schema['~standard'].validate(data);
      if (result instanceof Promise) result = await result;
      if (!result.issues) return { ok: true, value: result.value };
      return { ok: false, issues: result.issues.map(toIssue) };
    }
    const issues = jsonSchemaIssues(await jsonSchemaValidator(schema), data);
    return issues.length === 0 ? { ok: true, value: data } : { ok: false, issues };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ValidationError(
      `${operation}: the schema in the stateContract of plugin ${pluginId} could not be used: ${reason}. Fix the contract's schema.`,
      { pluginId, operation, cause: error, issues: [{ path: 'stateContract.schema', message: reason }] },
    );
  }
}

function toIssue(issue: StandardSchemaV1.Issue): ValidationIssue {
  const parts = (issue.path ?? []).map((segment) => {
    const key = typeof segment === 'object' && segment !== null ? segment.key : segment;
    return typeof key === 'symbol' ? key.toString() : key;
  });
  return { path: formatPath('data', parts), message: issue.message };
}
