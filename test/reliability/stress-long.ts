// The long form of the stress test: `npm run test:stress`.
//
//   PLUGIN_STATE_STRESS_ROUNDS    operations per process (10,000; the short form in `npm test` runs 300)
//   PLUGIN_STATE_STRESS_SEED      the seed of the run (a random one, printed, when not given)
//   PLUGIN_STATE_STRESS_BACKENDS  which stores, one after the other ("file,sqlite")
//   PLUGIN_STATE_STRESS_DIR       where the stores and logs go (a new folder under the system's temp folder)
//
// 4 processes × mixed operations on 100 plugins of one store, per backend (see stress-run.ts), then
// a summary per backend: operations per kind, conflicts retried, checks passed, wall time. Exits with
// code 1 if the model found anything; a failed run's store and logs are left in place, and the
// message says where and with which seed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Backend, describeResult, runStress } from './stress-run.js';

const rounds = Number(process.env.PLUGIN_STATE_STRESS_ROUNDS ?? 10_000);
const seed = Number(process.env.PLUGIN_STATE_STRESS_SEED ?? Math.floor(Math.random() * 1_000_000));
const backends = (process.env.PLUGIN_STATE_STRESS_BACKENDS ?? 'file,sqlite').split(',') as Backend[];
if (!Number.isSafeInteger(rounds) || rounds < 1)
  throw new Error('PLUGIN_STATE_STRESS_ROUNDS must be a whole number >= 1');
if (!Number.isSafeInteger(seed)) throw new Error('PLUGIN_STATE_STRESS_SEED must be a whole number');
for (const backend of backends) {
  if (backend !== 'file' && backend !== 'sqlite')
    throw new Error(`PLUGIN_STATE_STRESS_BACKENDS: unknown backend ${backend}`);
}
const root = mkdtempSync(join(process.env.PLUGIN_STATE_STRESS_DIR ?? tmpdir(), 'plugin-state-stress-'));
const started = performance.now();
console.log(
  `stress: 4 processes × ${rounds} rounds on 100 plugins, ${backends.join(' then ')}, seed ${seed}, under ${root}`,
);

let failed = false;
for (const backend of backends) {
  const dir = mkdtempSync(join(root, `${backend}-`));
  const result = await runStress({ backend, dir, rounds, seed });
  console.log(describeResult(result));
  if (result.problems.length > 0) {
    failed = true;
    console.log(
      `  FAILED: the store and the logs are kept in ${dir}; replay with ` +
        `PLUGIN_STATE_STRESS_SEED=${seed} PLUGIN_STATE_STRESS_ROUNDS=${rounds} PLUGIN_STATE_STRESS_BACKENDS=${backend}`,
    );
  } else {
    rmSync(dir, { recursive: true, force: true });
  }
}
if (!failed) rmSync(root, { recursive: true, force: true });
console.log(`${failed ? 'FAILED' : 'passed'} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
process.exit(failed ? 1 : 0);
