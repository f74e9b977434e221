// Type-level checks of state contracts: this file must compile under `npx tsc --noEmit -p .` (each
// `@ts-expect-error` must meet an error), and its few runtime checks run as an ordinary test.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StandardSchemaV1 as SpecStandardSchemaV1 } from '@standard-schema/spec';
import { type } from 'arktype';
import * as v from 'valibot';
import { z } from 'zod';
import {
  type AnyPlugin,
  defineStateContract,
  type JsonValue,
  MemoryStateStorage,
  type Plugin,
  PluginManager,
  PluginStateManager,
  pluginIdFromName,
  type StandardSchemaV1,
  type StateContract,
} from '../../../src/index.js';

/** True exactly when A and B are the same type (not merely mutually assignable). */
type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;
type MutuallyAssignable<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

const themeSchema = z.object({ theme: z.enum(['light', 'dark']), fontSize: z.number() });
type Theme = { theme: 'light' | 'dark'; fontSize: number };

const themeContract = defineStateContract({
  version: 2,
  schema: themeSchema,
  migrations: { 2: (v1) => ({ theme: (v1 as { dark: boolean }).dark ? 'dark' : 'light', fontSize: 14 }) },
  default: { theme: 'light', fontSize: 14 },
  references: (data) => (data.theme === 'dark' ? [] : []),
});

export type ContractInfersTheState = Expect<Equal<typeof themeContract, StateContract<Theme>>>;

// A default factory is checked like a default value.
export const withFactory = defineStateContract({
  version: 1,
  schema: themeSchema,
  default: () => ({ theme: 'dark' as const, fontSize: 12 }),
});
export type FactoryInfers = Expect<Equal<typeof withFactory, StateContract<Theme>>>;

// The other Standard Schema libraries infer the same way.
const valibotContract = defineStateContract({
  version: 1,
  schema: v.object({ count: v.number() }),
  default: { count: 0 },
});
export type ValibotInfers = Expect<Equal<typeof valibotContract, StateContract<{ count: number }>>>;
const arktypeContract = defineStateContract({
  version: 1,
  schema: type({ count: 'number' }),
  default: { count: 0 },
});
export type ArktypeInfers = Expect<Equal<typeof arktypeContract, StateContract<{ count: number }>>>;

// A JSON Schema says nothing TypeScript can read: the state type is given, or JsonValue.
const jsonContract = defineStateContract({ version: 1, schema: { type: 'object' } });
export type JsonSchemaDefaultsToJsonValue = Expect<Equal<typeof jsonContract, StateContract<JsonValue>>>;
const typedJsonContract = defineStateContract<{ count: number }>({
  version: 1,
  schema: { type: 'object', properties: { count: { type: 'number' } } },
  default: { count: 0 },
});
export type JsonSchemaWithType = Expect<Equal<typeof typedJsonContract, StateContract<{ count: number }>>>;

// A wrong default or reference is refused. With two overloads TypeScript reports the error on the
// call, so each `@ts-expect-error` sits above the call it expects to fail.
export const wrongDefaults = [
  // @ts-expect-error 'blue' is not a theme
  defineStateContract({ version: 1, schema: themeSchema, default: { theme: 'blue', fontSize: 14 } }),
  // @ts-expect-error fontSize must be a number
  defineStateContract({
    version: 1,
    schema: themeSchema,
    default: () => ({ theme: 'dark' as const, fontSize: '14' }),
  }),
  // @ts-expect-error fontSize is missing
  defineStateContract({ version: 1, schema: themeSchema, default: { theme: 'dark' } }),
  // @ts-expect-error references get the typed state: there is no `owner` to read
  defineStateContract({ version: 1, schema: themeSchema, references: (data) => [data.owner] }),
];

// The same contract without a wrong field compiles, so the errors above come from those fields.
export const rightDefaults = [
  defineStateContract({ version: 1, schema: themeSchema, default: { theme: 'dark', fontSize: 14 } }),
  defineStateContract({
    version: 1,
    schema: themeSchema,
    default: () => ({ theme: 'dark' as const, fontSize: 14 }),
  }),
  defineStateContract({ version: 1, schema: themeSchema, references: (data) => [data.theme] }),
];

function themePlugin(contract: StateContract<Theme>): Plugin<Theme> & { current: Theme } {
  return {
    id: pluginIdFromName('contracts.types.theme'),
    name: 'theme',
    current: { theme: 'dark', fontSize: 16 },
    stateContract: contract,
    getState() {
      return this.current;
    },
    setState(data) {
      // `data` is typed by the contract: no cast needed.
      this.current = { theme: data.theme, fontSize: data.fontSize };
    },
  };
}

// A plugin whose state type disagrees with its contract's is refused.
export const mismatched: Plugin<{ count: number }> = {
  id: pluginIdFromName('contracts.types.mismatch'),
  getState: () => ({ count: 1 }),
  setState: () => {},
  // @ts-expect-error the contract is for Theme, the plugin's state is { count: number }
  stateContract: themeContract,
};

// The copied StandardSchemaV1 and @standard-schema/spec's are the same interface, both ways.
export type SameStandardSchema = Expect<MutuallyAssignable<StandardSchemaV1, SpecStandardSchemaV1>>;
export type SameStandardSchemaTyped = Expect<
  MutuallyAssignable<StandardSchemaV1<{ a: string }, number>, SpecStandardSchemaV1<{ a: string }, number>>
>;
export type SameProps = Expect<
  MutuallyAssignable<StandardSchemaV1.Props<string, number>, SpecStandardSchemaV1.Props<string, number>>
>;
export type SameResult = Expect<
  MutuallyAssignable<StandardSchemaV1.Result<number>, SpecStandardSchemaV1.Result<number>>
>;
export type SameIssue = Expect<MutuallyAssignable<StandardSchemaV1.Issue, SpecStandardSchemaV1.Issue>>;
export type SameInferOutput = Expect<
  Equal<
    StandardSchemaV1.InferOutput<typeof themeSchema>,
    SpecStandardSchemaV1.InferOutput<typeof themeSchema>
  >
>;
export type SameInferInput = Expect<
  Equal<StandardSchemaV1.InferInput<typeof themeSchema>, SpecStandardSchemaV1.InferInput<typeof themeSchema>>
>;
// A validator typed with the spec's interface is accepted as a contract schema.
const specSchema: SpecStandardSchemaV1<unknown, { count: number }> = v.object({ count: v.number() });
export const fromSpec = defineStateContract({ version: 1, schema: specSchema, default: { count: 0 } });
export type FromSpecInfers = Expect<Equal<typeof fromSpec, StateContract<{ count: number }>>>;

describe('state contract types', () => {
  it('a Plugin<T> with an inferred contract is accepted by both managers, and round-trips', async () => {
    const manager = PluginStateManager.withMemoryStorage();
    const plugin = themePlugin(themeContract);
    const any: AnyPlugin = plugin;
    await manager.saveState(plugin);
    await manager.saveAllStates([plugin, any]);
    const restored = themePlugin(themeContract);
    restored.current = { theme: 'light', fontSize: 1 };
    await manager.loadState(restored);
    assert.deepEqual(restored.current, { theme: 'dark', fontSize: 16 });
    const stored = await manager.loadPluginState(plugin.id);
    assert.equal(stored?.version, 2);

    const host = PluginManager.withStateStorage(new MemoryStateStorage());
    host.registerPlugin(plugin);
    await host.saveAllPluginStates();
    await host.shutdown();
  });

  it('the copied StandardSchemaV1 accepts the validators of zod, valibot and arktype', () => {
    const schemas: StandardSchemaV1[] = [
      themeSchema,
      v.object({ count: v.number() }),
      type({ count: 'number' }),
    ];
    const spec: SpecStandardSchemaV1[] = schemas;
    assert.equal(spec.length, 3);
    for (const schema of schemas) assert.equal(schema['~standard'].version, 1);
  });
});
