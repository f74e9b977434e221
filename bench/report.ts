// Renders one run as Markdown: header, fsync probes, the full table, targets, the 1 MB breakdown
// and the memory footprint.
import type { Breakdown, Step } from './breakdown.js';
import type { MachineInfo } from './machine.js';
import type { Footprint } from './memory-footprint.js';
import type { PostgresServerInfo } from './postgres-env.js';
import { formatMs, type Summary, summarize } from './stats.js';
import { REFERENCE, type SubjectName } from './subjects.js';
import type { Row, TargetResult } from './targets.js';
import type { ThroughputPlan, ThroughputRow } from './throughput.js';
import type { SizeSpec } from './workload.js';

export interface Probe {
  when: string;
  summary: Summary;
}

export interface RunReport {
  machine: MachineInfo;
  dataDir: string;
  /** The commit measured. */
  source: string;
  command: string;
  quick: boolean;
  wallSeconds: number;
  /** The load average when the run ended (1 / 5 / 15 min). */
  loadAtEnd: string;
  specs: readonly SizeSpec[];
  probes: readonly Probe[];
  /** The probe run right before each size, by size label. */
  probeBySize: ReadonlyMap<string, Summary>;
  rows: readonly Row[];
  breakdown: Breakdown;
  footprints: readonly Footprint[];
  targets: readonly TargetResult[];
  /** The server the Postgres rows were measured on, or why they were not. */
  postgres: { info: PostgresServerInfo; failed?: string } | { skipped: string; shownUrl: string };
  throughput: readonly ThroughputRow[];
  throughputPlan: ThroughputPlan;
  /** Measurements that could not be made, with the reason. */
  throughputSkipped: readonly string[];
  /** The fsync probe run right before the throughput measurements. */
  throughputProbe: Summary | undefined;
}

const OPS = ['save', 'update', 'load', 'delete', 'list', 'list-after-save', 'list-cold'];
const SUBJECTS: SubjectName[] = ['raw', 'file', 'memory', 'raw-sqlite', 'sqlite', 'raw-pg', 'postgres'];
const RATIO_OPS = new Set(['save', 'update', 'load', 'delete']);
const DISK_OPS = new Set(['save', 'update', 'delete']);

function table(
  header: readonly string[],
  align: readonly ('l' | 'r')[],
  rows: readonly string[][],
): string[] {
  return [
    `| ${header.join(' | ')} |`,
    `|${align.map((a) => (a === 'r' ? '---:' : '---')).join('|')}|`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ];
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(2)} KB`;
const probeText = (s: Summary) => `${formatMs(s.p50)} / ${formatMs(s.p99)} / ${formatMs(s.max)}`;

function opLabel(op: string, spec: SizeSpec | undefined): string {
  if (!spec || !op.startsWith('list')) return op;
  const rest = op.slice('list'.length);
  return `list${rest} (${spec.listStates})`;
}

function resultsTable(report: RunReport, subjects: readonly SubjectName[]): string[] {
  const chosen = report.rows.filter((r) => subjects.includes(r.subject as SubjectName));
  const sorted = [...chosen].sort(
    (a, b) =>
      report.specs.findIndex((s) => s.label === a.size) - report.specs.findIndex((s) => s.label === b.size) ||
      SUBJECTS.indexOf(a.subject as SubjectName) - SUBJECTS.indexOf(b.subject as SubjectName) ||
      OPS.indexOf(a.op) - OPS.indexOf(b.op),
  );
  const rows = sorted.map((row) => {
    const spec = report.specs.find((s) => s.label === row.size);
    const reference = REFERENCE[row.subject as SubjectName];
    const raw = report.rows.find((r) => r.subject === reference && r.size === row.size && r.op === row.op);
    const ratio =
      reference && RATIO_OPS.has(row.op) && raw ? (row.summary.p99 / raw.summary.p99).toFixed(2) : '';
    const probe = report.probeBySize.get(row.size);
    const diskBound = row.subject !== 'memory' && DISK_OPS.has(row.op);
    return [
      row.subject,
      row.size,
      opLabel(row.op, spec),
      String(row.summary.n),
      formatMs(row.summary.p50),
      formatMs(row.summary.p99),
      formatMs(row.summary.max),
      ratio,
      diskBound && probe ? `${formatMs(probe.p50)} / ${formatMs(probe.p99)}` : '',
    ];
  });
  return table(
    [
      'subject',
      'size',
      'op',
      'n',
      'p50 ms',
      'p99 ms',
      'max ms',
      'ratio vs reference p99',
      'disk fsync p50 / p99 ms',
    ],
    ['l', 'l', 'l', 'r', 'r', 'r', 'r', 'r', 'r'],
    rows,
  );
}

function breakdownTable(steps: readonly Step[], total: string): string[] {
  const totalStep = steps.find((s) => s.step === total);
  const totalP50 = totalStep ? summarize(totalStep.samples).p50 : Number.NaN;
  const parts = steps.filter(
    (s) => !s.step.startsWith('=') && !s.step.startsWith('(') && !s.step.startsWith('for '),
  );
  const sum = parts.reduce((acc, s) => acc + summarize(s.samples).p50, 0);
  const rawSum = parts.filter((s) => s.inRaw).reduce((acc, s) => acc + summarize(s.samples).p50, 0);
  const rows = steps.map((s) => {
    const summary = summarize(s.samples);
    const counted = parts.includes(s);
    return [
      s.step,
      s.inRaw ? 'yes' : 'no',
      formatMs(summary.p50),
      formatMs(summary.p99),
      counted && totalP50 > 0 ? `${((summary.p50 / totalP50) * 100).toFixed(0)} %` : '',
    ];
  });
  rows.push(['sum of the step p50s above', '', formatMs(sum), '', '']);
  rows.push(['… of which the raw recipe pays too', '', formatMs(rawSum), '', '']);
  return table(
    ['step', 'raw pays it too', 'p50 ms', 'p99 ms', 'share of library p50'],
    ['l', 'l', 'r', 'r', 'r'],
    rows,
  );
}

export function renderReport(report: RunReport): string {
  const { machine } = report;
  const out: string[] = [];
  out.push(
    `# plugin-state benchmark${report.quick ? ' (quick smoke: small counts, indicative only)' : ''}`,
    '',
  );
  out.push(`- date: ${machine.date}`);
  out.push(`- node ${machine.node}; ${machine.os}`);
  out.push(
    `- CPU: ${machine.cpu}; memory: ${machine.memory}; load average (1 / 5 / 15 min) at start: ${machine.load}, at end: ${report.loadAtEnd}`,
  );
  out.push(
    `- data dir: \`${report.dataDir}\` on ${machine.filesystem}${machine.writeCache ? `; disk write cache: ${machine.writeCache}` : ''}`,
  );
  const first = report.probes[0];
  if (first)
    out.push(
      `- disk fsync probe (write 4 KB at offset 0 + fsync, p50 / p99 / max ms): ${probeText(first.summary)}`,
    );
  out.push(`- library measured: plugin-state at ${report.source}`);
  out.push(`- ${postgresLine(report)}`);
  out.push(`- command: \`${report.command}\`; wall time ${report.wallSeconds.toFixed(1)} s`);
  out.push(
    `- plan: ${report.specs
      .map(
        (s) =>
          `${s.label}: ${s.ops} ops/op (+${s.warmup} warm-up), list of ${s.listStates} ×${s.listReps}, after-save ×${s.listDirtyReps}, cold ×${s.listColdReps}${databasePlan(s)}`,
      )
      .join('; ')}`,
    '',
  );
  out.push(
    'Subjects: **raw** = hand-written sync node:fs recipe, the physical limit (save: open tmp `wx` 0600, write, fsync, close, rename, fsync of the kept-open folder fd; load: readFileSync + JSON.parse; delete: unlink + fsync folder; list: readdir + read + parse each); **file** = `FileSystemStateStorage`; **memory** = `MemoryStateStorage`; **raw-sqlite**, **sqlite**, **raw-pg**, **postgres**: see their sections below.',
    '',
    "One process, one run. Per size, each library storage runs together with its reference line (file with raw, sqlite with raw-sqlite, postgres with raw-pg) in fresh folders, database files or tables (removed afterwards): the disk-bound ops (save, update, delete) interleaved op by op, the order rotating each round, so both meet the same disk at the same moment; the CPU-bound ops (load, the lists) back to back, one subject after the other, so that one subject's garbage is not collected inside the other's timings. The pairs run one after the other; memory storage runs on its own after them. Every op is timed on its own with `process.hrtime.bigint()`; warm-up ops are not counted. save = first save of a new id; update = save over it (middle item retitled); load and delete in random order; list = `listStates()` of a warm instance; list-after-save = a list right after one state was saved (untimed); list-cold = a fresh instance on the same folder, file or table, opened and listed (its close not timed). The ratio column is the library's p99 / its reference line's p99 for the same op and size; the fsync probe run just before each size is shown beside the disk-bound rows.",
    '',
  );

  out.push('## Disk fsync probe (200 × write 4 KB at offset 0 + fsync)', '');
  out.push(
    ...table(
      ['when', 'p50 ms', 'p99 ms', 'max ms'],
      ['l', 'r', 'r', 'r'],
      report.probes.map((p) => [
        p.when,
        formatMs(p.summary.p50),
        formatMs(p.summary.p99),
        formatMs(p.summary.max),
      ]),
    ),
    '',
  );

  out.push('## Results', '', ...resultsTable(report, ['raw', 'file', 'memory']), '');

  out.push(
    '## Results: SQLite',
    '',
    '**raw-sqlite** = hand-written better-sqlite3 line in its own database file: WAL, `synchronous=FULL`, a table of the same columns, prepared statements, no checks (save: one autocommitted `INSERT … ON CONFLICT(plugin_id) DO UPDATE` of `JSON.stringify(data)`, which fsyncs the WAL; load: prepared SELECT + JSON.parse; delete: prepared DELETE; list: SELECT of every row + JSON.parse of each). **sqlite** = `SqliteStateStorage` with its defaults (WAL, `synchronous=FULL`, list cache on): a save is `BEGIN IMMEDIATE`, a revision read, the upsert and `COMMIT`.',
    '',
    ...resultsTable(report, ['raw-sqlite', 'sqlite']),
    '',
  );

  out.push('## Results: PostgreSQL', '');
  if ('skipped' in report.postgres) {
    out.push(`**Not measured:** ${report.postgres.skipped}`, '');
  } else {
    out.push(
      `Server: ${serverText(report.postgres.info)}. **raw-pg** = a plain \`pg.Pool\` with prepared statements on a table of the same columns, no checks (save: one \`INSERT … ON CONFLICT (plugin_id) DO UPDATE\` of \`JSON.stringify(data)\` into a \`text\` column; load: prepared SELECT + JSON.parse; list: SELECT of every row + JSON.parse of each). **postgres** = \`PostgresStateStorage\` with its defaults (its own pool, prepared statements). Each subject and size has a table of its own in a schema made for this run and dropped at its end. The disk column is this machine's disk: the server fsyncs its WAL at each commit${report.postgres.info.sameDisk.startsWith('yes') ? ' on the same filesystem' : ''}.`,
      '',
    );
    if (report.postgres.failed)
      out.push(`**Measurement failed, rows incomplete:** ${report.postgres.failed}`, '');
    out.push(...resultsTable(report, ['raw-pg', 'postgres']), '');
  }

  out.push(...throughputSection(report));

  out.push('## Targets', '');
  const misses = report.targets.filter((t) => !t.pass && !t.notMeasured).length;
  const unmeasured = report.targets.filter((t) => t.notMeasured).length;
  out.push(
    ...table(
      ['target', 'measured', 'result', 'note'],
      ['l', 'l', 'l', 'l'],
      report.targets.map((t) => [
        t.target,
        t.measured,
        t.notMeasured ? 'not measured' : t.pass ? 'PASS' : '**FAIL**',
        t.note ?? '',
      ]),
    ),
    '',
    (misses === 0
      ? `All ${report.targets.length - unmeasured} measured targets met.`
      : `**${misses} of ${report.targets.length - unmeasured} measured targets missed** (the bench still exits 0: it informs, it does not gate).`) +
      (unmeasured > 0 ? ` ${unmeasured} not measured in this run.` : ''),
    '',
  );

  const b = report.breakdown;
  out.push(
    `## Where the time goes: file save of a ${(b.bytes / 2 ** 20).toFixed(0)} MB (${b.bytes.toLocaleString('en')} B) state (${b.reps} rounds)`,
    '',
    'Each step of `FileSystemStateStorage.saveState` replayed on its own with the library functions, in the same rounds as end-to-end saves of the library and the raw recipe (rows starting with =). The remainder between the library end to end and the sum of steps is the async plumbing (guard, per-id queue, promises) and cache/GC effects.',
    '',
    ...breakdownTable(b.save, '= library saveState (new id), end to end'),
    '',
    `### And a load of the same state`,
    '',
    ...breakdownTable(b.load, '= library loadState, end to end'),
    '',
  );

  out.push(
    '### The same CPU steps by text content',
    '',
    `The state above is realistic text: ${b.nonAsciiChars.toLocaleString('en')} of its characters are not ASCII (ü, 日本語, 🎉), so V8 holds its JSON as a two-byte string. The same state with those characters replaced by \`?\`:`,
    '',
    ...table(
      ['step', 'as measured p50 ms', 'ASCII-only p50 ms'],
      ['l', 'r', 'r'],
      b.byText.map((s) => [s.step, formatMs(summarize(s.mixed).p50), formatMs(summarize(s.ascii).p50)]),
    ),
    '',
  );

  out.push('## Memory held per stored 1 KB state', '');
  out.push(
    'In a child process started with `--expose-gc`: `heapUsed` after full collections, before and after storing the states (the file storage after one `listStates`, so that its index holds them; the list result dropped), divided by the count. External memory (Buffers) shown for information.',
    '',
    ...table(
      [
        'storage',
        'states',
        'state size',
        'heap before',
        'heap after',
        'heap per state',
        'external per state',
      ],
      ['l', 'r', 'r', 'r', 'r', 'r', 'r'],
      report.footprints.map((f) => [
        f.kind,
        f.count.toLocaleString('en'),
        `${f.stateBytes} B`,
        `${(f.heapBefore / 2 ** 20).toFixed(1)} MB`,
        `${(f.heapAfter / 2 ** 20).toFixed(1)} MB`,
        kib(f.heapPerState),
        kib(f.externalPerState),
      ]),
    ),
    '',
  );
  return out.join('\n');
}

/** The SQLite and PostgreSQL pairs' smaller counts, if any. */
function databasePlan(spec: SizeSpec): string {
  const d = spec.database;
  if (!d || Object.keys(d).length === 0) return '';
  const parts = [
    d.ops !== undefined ? `${d.ops} ops/op` : '',
    d.listReps !== undefined ? `list ×${d.listReps}` : '',
    d.listDirtyReps !== undefined ? `after-save ×${d.listDirtyReps}` : '',
    d.listColdReps !== undefined ? `cold ×${d.listColdReps}` : '',
  ].filter(Boolean);
  return ` (SQLite and PostgreSQL pairs: ${parts.join(', ')})`;
}

function serverText(info: PostgresServerInfo): string {
  const set = info.settings;
  return (
    `PostgreSQL ${info.version} at ${info.shownUrl} (${info.source}); fsync ${set.fsync}, synchronous_commit ${set.synchronous_commit}, ` +
    `wal_sync_method ${set.wal_sync_method}, commit_delay ${set.commit_delay}, shared_buffers ${set.shared_buffers}; ` +
    `data directory on the bench's filesystem: ${info.sameDisk}`
  );
}

function postgresLine(report: RunReport): string {
  const pg = report.postgres;
  if ('skipped' in pg) return `PostgreSQL: **not measured** (${pg.skipped})`;
  return `PostgreSQL: ${serverText(pg.info)}`;
}

function throughputSection(report: RunReport): string[] {
  const plan = report.throughputPlan;
  const out = [
    '## Throughput: concurrent writers on distinct ids',
    '',
    `Each writer is a process of its own (\`node --import tsx bench/writer.ts\`) with its own storage instance on the same folder, SQLite file or PostgreSQL table, saving its own id ${plan.savesPerWriter} times (1 KB, after ${plan.warmup} untimed warm-up saves), all released at once. saves/s = all timed saves / the span from the first writer's first save to the last writer's last (one monotonic clock for all processes); latency over every timed save of every writer. Afterwards each id's revision is checked: no acknowledged save is missing. This machine has ${report.machine.cpu.replace(/^.*× /, '')} for all writers (and the PostgreSQL server).`,
    '',
  ];
  if (report.throughput.length > 0) {
    const probe = report.throughputProbe;
    out.push(
      ...table(
        [
          'backend',
          'writers',
          'saves',
          'span s',
          'saves/s',
          'p50 ms',
          'p99 ms',
          'max ms',
          'disk fsync p50 / p99 ms',
        ],
        ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
        report.throughput.map((t) => [
          t.backend,
          String(t.writers),
          t.totalSaves.toLocaleString('en'),
          t.seconds.toFixed(2),
          t.savesPerSecond.toFixed(0),
          formatMs(t.summary.p50),
          formatMs(t.summary.p99),
          formatMs(t.summary.max),
          probe ? `${formatMs(probe.p50)} / ${formatMs(probe.p99)}` : '',
        ]),
      ),
      '',
    );
  }
  for (const line of report.throughputSkipped) out.push(`- **Not measured:** ${line}`);
  if (report.throughputSkipped.length > 0) out.push('');
  return out;
}
