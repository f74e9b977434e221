import type { ValidationIssue } from '../errors.js';
import { formatPath } from '../json.js';

/** A JSON Schema (draft 2020-12 by default, draft-07 when its `$schema` says so), validated with ajv. */
export type JsonSchema = { readonly [keyword: string]: unknown } | boolean;

type Validate = ((data: unknown) => boolean) & {
  errors?: Array<{ instancePath: string; message?: string; keyword: string; params: unknown }> | null;
};
interface AjvInstance {
  compile(schema: unknown): Validate;
}

/** One ajv per draft, built on first use: ajv is an optional peer that only JSON Schema users install. */
const instances = new Map<'2020-12' | '07', Promise<AjvInstance>>();
/** Compiling is the expensive part (tens of ms); a schema object is compiled once. */
const compiled = new WeakMap<object, Promise<Validate>>();
const compiledBooleans = new Map<boolean, Promise<Validate>>();

/** Compiles (once) and returns the validator of `schema`; a bad schema or a missing ajv throws `Error`. */
export function jsonSchemaValidator(schema: JsonSchema): Promise<Validate> {
  const cache = typeof schema === 'boolean' ? compiledBooleans : compiled;
  let validator = (cache as Map<unknown, Promise<Validate>>).get(schema);
  if (!validator) {
    validator = ajvFor(schema).then((ajv) => ajv.compile(schema));
    // A schema that failed to compile stays failed: the error says what to fix in the contract.
    (cache as Map<unknown, Promise<Validate>>).set(schema, validator);
  }
  return validator;
}

/** Runs a compiled validator; returns the issues, with paths like `data.items[3].when`. */
export function jsonSchemaIssues(validate: Validate, data: unknown): ValidationIssue[] {
  if (validate(data)) return [];
  return (validate.errors ?? []).map((error) => ({
    path: formatPath('data', pointerParts(error.instancePath)),
    message: describeAjvError(error),
  }));
}

function describeAjvError(error: { keyword: string; message?: string; params: unknown }): string {
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'additionalProperties') {
    return `${error.message ?? 'must not have additional properties'} (${JSON.stringify(params.additionalProperty)})`;
  }
  return error.message ?? `fails "${error.keyword}"`;
}

/** Splits a JSON pointer (`/items/3/when`) into path parts; array indexes stay numbers. */
function pointerParts(pointer: string): Array<string | number> {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((part) => (/^(0|[1-9]\d*)$/.test(part) ? Number(part) : part));
}

function ajvFor(schema: JsonSchema): Promise<AjvInstance> {
  const draft =
    typeof schema === 'object' && typeof schema.$schema === 'string' && schema.$schema.includes('draft-07')
      ? '07'
      : '2020-12';
  let instance = instances.get(draft);
  if (!instance) {
    instance = loadAjv(draft);
    instances.set(draft, instance);
    instance.catch(() => instances.delete(draft)); // installing ajv later must work without a restart
  }
  return instance;
}

async function loadAjv(draft: '2020-12' | '07'): Promise<AjvInstance> {
  let modules: [unknown, unknown];
  try {
    modules = await Promise.all([
      draft === '07' ? import('ajv') : import('ajv/dist/2020.js'),
      import('ajv-formats'),
    ]);
  } catch (error) {
    throw new Error(
      'a JSON Schema contract needs the packages ajv and ajv-formats: run `npm install ajv ajv-formats`',
      { cause: error },
    );
  }
  const [ajvModule, formatsModule] = modules as [Record<string, unknown>, Record<string, unknown>];
  const Ajv = (draft === '07' ? ajvModule.Ajv : ajvModule.Ajv2020) as new (options: object) => AjvInstance;
  const formats = unwrapDefault(formatsModule) as (ajv: AjvInstance) => void;
  // allErrors: a user fixing a state wants every problem at once. strictSchema: a typo in a schema
  // keyword is a contract bug, found when the contract is first used rather than silently ignored.
  // The stricter checks of types, tuples and `required` refuse schemas that are valid JSON Schema.
  const ajv = new Ajv({
    allErrors: true,
    strictSchema: true,
    strictNumbers: true,
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
  });
  formats(ajv);
  return ajv;
}

/** ajv-formats is CommonJS with `exports.default`; seen from ESM its function sits one level down. */
function unwrapDefault(module: Record<string, unknown>): unknown {
  const first = module.default as { default?: unknown } | undefined;
  return typeof first?.default === 'function' ? first.default : first;
}
