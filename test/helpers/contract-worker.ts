// A separate process holding plugins with a state contract at version 1, 2 or 3, for the
// cross-process contract tests (test/managers/contracts/cross-process.test.ts).
// Run as: node --import tsx test/helpers/contract-worker.ts <command> <url> <version> [args...]
//
//   save <url> <version> <states>   <states> is JSON {id: state}; registers one plugin per id with
//                                   the contract of <version>, saves them all, prints
//                                   {"saved": {id: {revision, version}}}
//   load <url> <version> <ids> [bump]
//                                   <ids> is a JSON array; registers the plugins, loads them all
//                                   through a PluginManager (migrating older states); with "bump"
//                                   adds 1 to each counter and saves them all (shutdown); prints
//                                   {"received": {id: data},
//                                   "final": {id: data}, "stepCalls", "migrateReports"}
//   race <url> <version> <id> <delayMs>
//                                   opens the store, prints "ready", waits for "go" on stdin, then
//                                   loads one plugin (each migration step waits <delayMs> first, to
//                                   widen the race); prints {"received", "stepCalls",
//                                   "migrateReports", "revision"}
//
// <url> is a storage URL (file:<dir>, sqlite:<path>). CONTRACT_WORKER_HISTORY=<n> opens the store
// with `history: n`. Any failure prints to stderr and exits with code 1.
//
// The contracts (zod schemas):
//   v1 { count: number, label: string }
//   v2 { count: number, label: string, tags: string[] }          step 2 adds tags ["from-v1"]
//   v3 { counter: { value: number }, title: string, tags: string[] }
//                                                                 step 3 renames, adds "from-v2"
import { writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import {
  defineStateContract,
  type MigrationStep,
  openStorage,
  type Plugin,
  PluginManager,
  PluginStateManager,
  type StateContract,
  type StateReport,
} from '../../src/index.js';

const [command, url, versionArg, ...args] = process.argv.slice(2);
if (!command || !url || !versionArg)
  throw new Error('usage: contract-worker.ts <command> <url> <version> [args...]');
const version = Number(versionArg);

function print(value: unknown): void {
  writeSync(1, `${typeof value === 'string' ? value : JSON.stringify(value)}\n`);
}

const v1 = z.object({ count: z.number(), label: z.string() });
const v2 = v1.extend({ tags: z.array(z.string()) });
const v3 = z.object({
  counter: z.object({ value: z.number() }),
  title: z.string(),
  tags: z.array(z.string()),
});
type V1 = z.infer<typeof v1>;
type V2 = z.infer<typeof v2>;
type V3 = z.infer<typeof v3>;

/** Calls of each step in this process: the side effect the race test counts. */
const stepCalls: Record<string, number> = {};
const stepDelayMs = command === 'race' ? Number(args[1] ?? 0) : 0;

function counted(to: number, step: (data: unknown) => unknown): MigrationStep {
  return async (data) => {
    stepCalls[to] = (stepCalls[to] ?? 0) + 1;
    if (stepDelayMs > 0) await sleep(stepDelayMs);
    return step(data);
  };
}

const step2 = counted(2, (data) => ({ ...(data as V1), tags: ['from-v1'] }));
const step3 = counted(3, (data) => {
  const { count, label, tags } = data as V2;
  return { counter: { value: count }, title: label, tags: [...tags, 'from-v2'] };
});

const contracts: Record<number, StateContract<V1> | StateContract<V2> | StateContract<V3>> = {
  1: defineStateContract({ version: 1, schema: v1 }),
  2: defineStateContract({ version: 2, schema: v2, migrations: { 2: step2 } }),
  3: defineStateContract({ version: 3, schema: v3, migrations: { 2: step2, 3: step3 } }),
};
const contract = contracts[version];
if (!contract) throw new Error(`no contract of version ${version}`);

type AnyState = V1 | V2 | V3;

function plugin(
  id: string,
  initial?: AnyState,
): Plugin<AnyState> & { state: AnyState | undefined; received: AnyState[] } {
  return {
    id,
    state: initial,
    received: [],
    stateContract: contract as StateContract<AnyState>,
    getState() {
      if (this.state === undefined) throw new Error(`plugin ${id} has no state to save`);
      return this.state;
    },
    setState(data) {
      this.received.push(data);
      this.state = data;
    },
  };
}

function bump(state: AnyState): AnyState {
  return 'counter' in state
    ? { ...state, counter: { value: state.counter.value + 1 } }
    : { ...state, count: state.count + 1 };
}

const migrateReports: string[] = [];
const onReport = (report: StateReport) => {
  if (report.operation === 'migrate') migrateReports.push(report.message);
  else if (!report.recovered) process.stderr.write(`report: ${report.message}\n`);
};

async function open() {
  const history = process.env.CONTRACT_WORKER_HISTORY;
  return openStorage(url!, history === undefined ? {} : { history: Number(history) });
}

async function main(): Promise<void> {
  switch (command) {
    case 'save': {
      const states = JSON.parse(args[0]!) as Record<string, AnyState>;
      const storage = await open();
      const manager = new PluginStateManager(storage, { onReport });
      await manager.saveAllStates(Object.entries(states).map(([id, state]) => plugin(id, state)));
      const saved: Record<string, unknown> = {};
      for (const id of Object.keys(states)) {
        const stored = await manager.loadPluginState(id);
        saved[id] = { revision: stored?.revision, version: stored?.version };
      }
      await manager.close();
      print({ saved });
      break;
    }
    case 'load': {
      const ids = JSON.parse(args[0]!) as string[];
      const storage = await open();
      // A PluginManager's shutdown saves every plugin: with "bump" that is the one save of the
      // changed states; without, the storage is closed directly so that no revision is added.
      const manager = PluginManager.withStateStorage(storage, { onReport });
      const plugins = ids.map((id) => plugin(id));
      for (const p of plugins) manager.registerPlugin(p);
      await manager.loadAllPluginStates();
      const received = Object.fromEntries(plugins.map((p) => [p.id, p.received.at(-1)]));
      const shouldBump = args[1] === 'bump';
      if (shouldBump) for (const p of plugins) p.state = bump(p.state!);
      const final = Object.fromEntries(plugins.map((p) => [p.id, p.state]));
      if (shouldBump)
        await manager.shutdown(); // saves every plugin, then closes
      else await storage.close?.();
      print({ received, final, stepCalls, migrateReports });
      break;
    }
    case 'race': {
      const id = args[0]!;
      const storage = await open();
      const manager = new PluginStateManager(storage, { onReport });
      const racer = plugin(id);
      print('ready');
      const input = createInterface({ input: process.stdin });
      const go = await input[Symbol.asyncIterator]().next();
      if (go.done || go.value !== 'go') throw new Error(`expected "go", got ${JSON.stringify(go.value)}`);
      await manager.loadState(racer);
      const revision = (await manager.loadPluginState(id))?.revision;
      await manager.close();
      input.close();
      print({ received: racer.received, stepCalls, migrateReports, revision });
      break;
    }
    default:
      throw new Error(`unknown command ${command}`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
