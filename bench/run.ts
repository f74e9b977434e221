// `npm run bench [-- --quick] [-- --out FILE]`: latency of memory and file storage against the raw
// fsync recipe, all in one run; prints Markdown on stdout (progress on stderr). Always exits 0 when
// it completes, even when a target is missed: a benchmark informs, it does not gate CI.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { breakdown } from './breakdown.js';
import { fsyncProbe } from './fsync-probe.js';
import { machineInfo } from './machine.js';
import { type Footprint, measureFootprint } from './memory-footprint.js';
import { type Probe, renderReport } from './report.js';
import { summarize } from './stats.js';
import { GROUPS } from './subjects.js';
import { checkTargets, type Row } from './targets.js';
import { runSize, type SizeSpec } from './workload.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const outIndex = args.indexOf('--out');
const outFile = outIndex >= 0 ? args[outIndex + 1] : undefined;

const FULL: SizeSpec[] = [
  {
    label: '1KB',
    bytes: 1024,
    ops: 1000,
    warmup: 100,
    listStates: 1000,
    listReps: 1000,
    listDirtyReps: 200,
    listColdReps: 20,
  },
  {
    label: '100KB',
    bytes: 100 * 1024,
    ops: 200,
    warmup: 20,
    listStates: 100,
    listReps: 200,
    listDirtyReps: 30,
    listColdReps: 10,
  },
  {
    label: '1MB',
    bytes: 1024 * 1024,
    ops: 200, // more than the 50 asked for: with 50 samples p99 is simply the max
    warmup: 10,
    listStates: 20,
    listReps: 50,
    listDirtyReps: 10,
    listColdReps: 5,
  },
];
const QUICK: SizeSpec[] = [
  {
    label: '1KB',
    bytes: 1024,
    ops: 100,
    warmup: 10,
    listStates: 1000,
    listReps: 30,
    listDirtyReps: 10,
    listColdReps: 3,
  },
  {
    label: '100KB',
    bytes: 100 * 1024,
    ops: 20,
    warmup: 3,
    listStates: 20,
    listReps: 10,
    listDirtyReps: 5,
    listColdReps: 2,
  },
  {
    label: '1MB',
    bytes: 1024 * 1024,
    ops: 10,
    warmup: 2,
    listStates: 5,
    listReps: 5,
    listDirtyReps: 3,
    listColdReps: 2,
  },
];
const specs = quick ? QUICK : FULL;
const breakdownReps = quick ? { reps: 5, warmup: 1 } : { reps: 30, warmup: 3 };
const footprintCount = quick ? 1000 : 10_000;

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dataRoot = join(repo, 'bench', '.data', `run-${Date.now()}-${process.pid}`);
const started = process.hrtime.bigint();
const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
const log = (line: string) => process.stderr.write(`[bench ${elapsed().toFixed(1).padStart(6)} s] ${line}\n`);

/** Which library code was measured: the commit, and whether src/ differed from it. */
function sourceVersion(): string {
  try {
    const git = (...rest: string[]) => execFileSync('git', rest, { cwd: repo, encoding: 'utf8' }).trim();
    const dirty = git('status', '--porcelain', '--', 'src') !== '';
    return `${git('rev-parse', '--short', 'HEAD')}${dirty ? ' with uncommitted changes in src/' : ''}`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

const cleanUp = () => rmSync(dataRoot, { recursive: true, force: true });
process.on('SIGINT', () => {
  cleanUp();
  process.exit(130);
});

async function main(): Promise<void> {
  mkdirSync(dataRoot, { recursive: true, mode: 0o700 });
  try {
    const machine = machineInfo(dataRoot);
    const probes: Probe[] = [];
    const probeBySize = new Map<string, ReturnType<typeof summarize>>();
    const probe = (when: string) => {
      const summary = fsyncProbe(dataRoot);
      probes.push({ when, summary });
      log(`fsync probe (${when}): p50 ${summary.p50.toFixed(3)} ms, p99 ${summary.p99.toFixed(3)} ms`);
      return summary;
    };
    probe('start');

    const rows: Row[] = [];
    for (const spec of specs) {
      probeBySize.set(spec.label, probe(`before ${spec.label}`));
      for (const group of GROUPS) {
        const names = group.map((s) => s.name).join(' + ');
        log(`${spec.label}: ${names}${group.length > 1 ? ' interleaved' : ''}`);
        for (const samples of await runSize(spec, group, dataRoot, log)) {
          const { subject, size, op } = samples;
          rows.push({ subject, size, op, summary: summarize(samples.samples) });
        }
      }
    }
    log(`1 MB save/load breakdown ×${breakdownReps.reps}`);
    const steps = await breakdown(dataRoot, 1024 * 1024, breakdownReps.reps, breakdownReps.warmup);
    probe('end');

    const footprints: Footprint[] = [];
    for (const kind of ['memory', 'file'] as const) {
      log(`memory footprint: ${kind} storage, ${footprintCount} states of 1 KB (child process)`);
      footprints.push(measureFootprint(kind, footprintCount, join(dataRoot, `footprint-${kind}`)));
    }

    const listOf1KB = specs.find((s) => s.label === '1KB')?.listStates ?? 0;
    const targets = checkTargets(rows, footprints, listOf1KB);
    const markdown = renderReport({
      machine,
      dataDir: relative(repo, join(repo, 'bench', '.data')),
      source: sourceVersion(),
      command: `npm run bench${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`,
      quick,
      wallSeconds: elapsed(),
      specs,
      probes,
      probeBySize,
      rows,
      breakdown: steps,
      footprints,
      targets,
    });
    process.stdout.write(`${markdown}\n`);
    if (outFile) writeFileSync(outFile, `${markdown}\n`);
    const misses = targets.filter((t) => !t.pass);
    log(
      misses.length === 0
        ? `done: all ${targets.length} targets met`
        : `done: ${misses.length} target(s) MISSED: ${misses.map((t) => `${t.target} (${t.measured})`).join('; ')}`,
    );
  } finally {
    cleanUp();
  }
}

await main();
process.exitCode = 0;
