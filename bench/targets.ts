// The issue's targets, checked against one run's figures. A miss is reported, never thrown: the
// bench informs, it does not gate.
import type { Footprint } from './memory-footprint.js';
import { formatMs, type Summary } from './stats.js';

export interface Row {
  subject: string;
  size: string;
  op: string;
  summary: Summary;
}

export interface TargetResult {
  target: string;
  measured: string;
  pass: boolean;
  /** What the reader should know to judge the line. */
  note?: string;
}

const KB = 1024;

export function checkTargets(
  rows: readonly Row[],
  footprints: readonly Footprint[],
  listOf1KB: number,
): TargetResult[] {
  const get = (subject: string, size: string, op: string) =>
    rows.find((r) => r.subject === subject && r.size === size && r.op === op)?.summary;
  const results: TargetResult[] = [];
  const missing = (target: string) => results.push({ target, measured: 'not measured', pass: false });

  const vsRaw = (size: string, op: string, stat: 'p50' | 'p99', factor: number) => {
    const target = `file ${size} ${op} ${stat} ≤ ${factor} × raw ${op} ${stat}`;
    const f = get('file', size, op);
    const r = get('raw', size, op);
    if (!f || !r) return missing(target);
    const limit = factor * r[stat];
    results.push({
      target,
      measured: `${formatMs(f[stat])} ms vs ${factor} × ${formatMs(r[stat])} = ${formatMs(limit)} ms (ratio ${(f[stat] / r[stat]).toFixed(2)})`,
      pass: f[stat] <= limit,
    });
  };
  const absolute = (
    subject: string,
    size: string,
    op: string,
    stat: 'p50' | 'p99',
    limitMs: number,
    strict = false,
  ) => {
    const label = op.startsWith('list') && size === '1KB' ? `list of ${listOf1KB.toLocaleString('en')}` : op;
    const target = `${subject} ${size} ${label} ${stat} ${strict ? '<' : '≤'} ${limitMs} ms`;
    const s = get(subject, size, op);
    if (!s) return missing(target);
    const raw = subject === 'file' ? get('raw', size, op) : undefined;
    results.push({
      target,
      measured: `${formatMs(s[stat])} ms${raw ? ` (raw recipe: ${formatMs(raw[stat])} ms)` : ''}`,
      pass: strict ? s[stat] < limitMs : s[stat] <= limitMs,
    });
  };

  vsRaw('1KB', 'save', 'p99', 1.2);
  absolute('file', '1KB', 'load', 'p99', 0.5);
  absolute('file', '1KB', 'delete', 'p99', 5);
  absolute('file', '1KB', 'list', 'p99', 5);
  absolute('file', '1MB', 'save', 'p50', 10, true);
  vsRaw('1MB', 'save', 'p99', 1.2);
  absolute('file', '1MB', 'load', 'p50', 10, true);
  vsRaw('1MB', 'load', 'p99', 1.2);
  for (const op of ['save', 'update', 'load', 'delete', 'list']) absolute('memory', '1KB', op, 'p99', 0.2);
  const memoryList = results.at(-1);
  if (memoryList) {
    memoryList.note =
      'a list returns a deep copy of every state (~1 MB of JSON at 1,000 × 1 KB), so it cannot take 0.2 ms; ' +
      'if "every operation" means the per-state ones, this line does not apply';
  }
  for (const kind of ['memory', 'file'] as const) {
    const target = `${kind} storage: heap held per stored 1 KB state ≤ 4 KB`;
    const f = footprints.find((x) => x.kind === kind);
    if (!f) {
      missing(target);
      continue;
    }
    results.push({
      target,
      measured: `${(f.heapPerState / KB).toFixed(2)} KB (${f.count.toLocaleString('en')} states)`,
      pass: f.heapPerState <= 4 * KB,
    });
  }
  return results;
}
