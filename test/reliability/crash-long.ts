// The long form of the crash test: `npm run test:crash`.
//
//   PLUGIN_STATE_CRASH_KILLS   kills in all, shared evenly by the file and SQLite backends (5000)
//   PLUGIN_STATE_CRASH_SEED    the seed of the run (a random one, printed, when not given)
//   PLUGIN_STATE_CRASH_DIR     where the stores go (a new folder under the system's temp folder)
//   PLUGIN_STATE_CRASH_MINUTES stop after this long with the kills done so far (no limit); the
//                              summary then says how many of the planned kills ran
//
// Runs both backends at once (each its own loop of one child at a time: see crash-loop.ts), prints
// progress, then a summary; exits with code 1 if anything was lost, torn or unreadable. A store
// that failed is left in place, and the message says where and with which seed.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Backend, CrashLoopFailure, type CrashStats, crashLoop } from './crash-loop.js';

const total = Number(process.env.PLUGIN_STATE_CRASH_KILLS ?? 5000);
const seed = Number(process.env.PLUGIN_STATE_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
if (!Number.isSafeInteger(total) || total < 2)
  throw new Error('PLUGIN_STATE_CRASH_KILLS must be a whole number >= 2');
if (!Number.isSafeInteger(seed)) throw new Error('PLUGIN_STATE_CRASH_SEED must be a whole number');
const minutes = process.env.PLUGIN_STATE_CRASH_MINUTES
  ? Number(process.env.PLUGIN_STATE_CRASH_MINUTES)
  : undefined;
if (minutes !== undefined && !(minutes > 0))
  throw new Error('PLUGIN_STATE_CRASH_MINUTES must be a number > 0');
const root = mkdtempSync(join(process.env.PLUGIN_STATE_CRASH_DIR ?? tmpdir(), 'plugin-state-crash-'));
const backends: Backend[] = ['file', 'sqlite'];
const started = performance.now();
const latest = new Map<Backend, CrashStats>();

console.log(
  `crash loop: ${total} kills across ${backends.join(' and ')}, seed ${seed}, stores under ${root}` +
    (minutes === undefined ? '' : `, for at most ${minutes} minutes`),
);

function progress(stats: CrashStats): void {
  latest.set(stats.backend, { ...stats });
  if (stats.kills % 100 === 0) {
    const rate = (stats.kills / stats.ms) * 1000;
    console.log(
      `  ${stats.backend.padEnd(6)} ${String(stats.kills).padStart(5)} kills, ${stats.acknowledgedSaves} acknowledged saves checked, ` +
        `${(stats.ms / 1000).toFixed(0)} s (${rate.toFixed(2)} kills/s)`,
    );
  }
}

const results = await Promise.allSettled(
  backends.map((backend, i) =>
    crashLoop({
      backend,
      place: join(root, backend === 'file' ? 'states' : 'states.db'),
      kills: Math.floor(total / backends.length) + (i < total % backends.length ? 1 : 0),
      seed,
      onProgress: progress,
      ...(minutes === undefined ? {} : { stopAt: started + minutes * 60_000 }),
    }),
  ),
);
const wall = performance.now() - started;

const rows: CrashStats[] = results.map((result, i) => {
  if (result.status === 'fulfilled') return result.value;
  const error = result.reason as Error;
  console.error(`\n${backends[i]}: ${error.message}`);
  return error instanceof CrashLoopFailure ? error.stats : latest.get(backends[i]!)!;
});
const failed = results.some((result) => result.status === 'rejected');

const line = (label: string, value: (stats: CrashStats) => number | string) =>
  console.log(
    `  ${label.padEnd(44)}${rows.map((stats) => String(stats ? value(stats) : '-').padStart(10)).join('')}`,
  );
console.log(`\ncrash loop summary (seed ${seed})`);
console.log(`  ${''.padEnd(44)}${backends.map((backend) => backend.padStart(10)).join('')}`);
line('kills (SIGKILL)', (s) => s.kills);
line('  during open and recovery', (s) => s.killedInOpen);
line('  with an operation in flight', (s) => s.killedMidOperation);
line('  with a save of 768 KiB-1 MiB in flight', (s) => s.killedMidBigSave);
line('  in-flight operations found done', (s) => s.inFlightLanded);
line('  last line cut short by the kill (ignored)', (s) => s.partialLines);
line('acknowledged saves checked', (s) => s.acknowledgedSaves);
line('acknowledged deletes checked', (s) => s.acknowledgedDeletes);
line('history revisions loaded and checked', (s) => s.revisionsChecked);
line('temp files the kills left (before reopen)', (s) =>
  s.backend === 'file' ? s.tempFilesBeforeReopen : '-',
);
line('losses (acknowledged revisions missing)', (s) => s.losses);
line('torn or mixed states', (s) => s.torn);
line('unreadable states', (s) => s.unreadable);
line('temp files after reopen', (s) => (s.backend === 'file' ? s.tempFilesAfterReopen : '-'));
line('other problems', (s) => s.other);
line('wall time of the loop (s)', (s) => (s.ms / 1000).toFixed(0));
line('  waiting for a child to load (s)', (s) => (s.time.ready / 1000).toFixed(0));
line('  children running until killed (s)', (s) => (s.time.run / 1000).toFixed(0));
line('  checks after the kills (s)', (s) => (s.time.check / 1000).toFixed(0));
const cpu = process.cpuUsage();
console.log(
  `  total wall time: ${(wall / 1000).toFixed(0)} s; CPU: checks (this process) ${((cpu.user + cpu.system) / 1e6).toFixed(0)} s, ` +
    `children ${childrenCpuSeconds()} s`,
);

const done = rows.reduce((sum, stats) => sum + (stats?.kills ?? 0), 0);
if (done < total && !failed)
  console.log(`  stopped at the time limit: ${done} of the ${total} kills planned`);

if (failed) {
  console.error(
    `\nFAILED: the stores are kept under ${root}; run again with PLUGIN_STATE_CRASH_SEED=${seed}.`,
  );
  process.exit(1);
}
rmSync(root, { recursive: true, force: true });
console.log(
  '\npassed: 0 acknowledged revisions missing, 0 torn, 0 unreadable states, 0 temp files after reopen',
);

/** CPU seconds of the reaped children (Linux: cutime + cstime of /proc/self/stat), or "?" elsewhere. */
function childrenCpuSeconds(): string {
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[13]) + Number(fields[14])) / 100).toFixed(0);
  } catch {
    return '?';
  }
}
