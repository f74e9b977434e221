// The model the stress test checks its processes' logs against (issue 6, item 9).
//
// Every operation of every process is logged with the interval it ran in (t0 just before the call,
// t1 just after its promise resolved, on one clock for all processes), so it took effect at some
// moment in between. The checks are the ones any correct (linearizable) store must pass, whatever
// the interleaving; none guesses an order it cannot know:
//
// - writes: no two acknowledged writes of an id got the same revision; a write that began after
//   another ended got a higher revision (so numbering also goes on after a delete); a restore
//   wrote exactly the data of the revision it restored;
// - reads (loadState, each id of listStates, the current entry of listRevisions, loadRevision):
//   a revision read was acknowledged with exactly the content read (nothing torn, mixed or never
//   written), by a write that had begun; nothing older than a write acknowledged before the read
//   began; not a state deleted after it was written and before the read began; and "nothing" only
//   when a delete may have come after the last write acknowledged before the read;
// - counters (written only by compare-and-set increments): their revisions are exactly 1..n, each
//   increment wrote its revision as the count, and the final count is n: no lost update;
// - the final state, read by a fresh store after every process ended, is a read at the end of time:
//   the highest acknowledged revision with its content, or nothing when a delete may have been last.
import type { LogEntry, WriteKind } from './stress-data.js';

/** The clock reading of the parent's final reads: after everything. */
export const END_OF_TIME = Number.MAX_SAFE_INTEGER;

interface Write {
  kind: WriteKind;
  p: number;
  t0: number;
  t1: number;
  rev: number;
  h: string;
  size: number;
  from?: number;
  count?: number;
}

interface Span {
  p: number;
  t0: number;
  t1: number;
}

interface Read extends Span {
  rev: number | null;
  /** undefined: the read saw a revision number but not the content (listRevisions). */
  h: string | null | undefined;
  what: string;
}

/** What the model checked, and every problem it found (empty for a pass). */
export interface ModelResult {
  checks: Record<string, number>;
  problems: string[];
  /** Problems by kind: duplicate, order, torn, unknown, stale, lost, counter, restore, history. */
  found: Record<string, number>;
}

class IdModel {
  readonly byRevision = new Map<number, Write>();
  readonly writes: Write[] = [];
  readonly deletes: Span[] = [];
  readonly reads: Read[] = [];
  /** Writes by end time, with the write of the highest revision among each prefix. */
  private ended: Write[] = [];
  private highest: Write[] = [];

  constructor(readonly id: string) {}

  index(): void {
    this.ended = [...this.writes].sort((a, b) => a.t1 - b.t1);
    let top: Write | undefined;
    this.highest = this.ended.map((write) => {
      if (!top || write.rev > top.rev) top = write;
      return top;
    });
  }

  /** The write of the highest revision among those acknowledged before `t`. */
  lastBefore(t: number): Write | undefined {
    let lo = 0;
    let hi = this.ended.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ended[mid]!.t1 < t) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? undefined : this.highest[lo - 1];
  }
}

/**
 * Checks the logs of every process (and the parent's final reads, stamped END_OF_TIME) against
 * the model. `counters` are the ids only compare-and-set increments write.
 */
export function checkModel(
  entries: readonly LogEntry[],
  ids: readonly string[],
  counters: ReadonlySet<string>,
): ModelResult {
  const checks: Record<string, number> = {};
  const found: Record<string, number> = {};
  const problems: string[] = [];
  const start = Math.min(...entries.map((entry) => entry.t0));
  const at = (t: number) => (t >= END_OF_TIME ? 'end' : `${((t - start) / 1000).toFixed(1)} ms`);
  const who = (s: Span) => (s.p < 0 ? 'the final check' : `process ${s.p} [${at(s.t0)} – ${at(s.t1)}]`);
  const problem = (kind: string, text: string) => {
    found[kind] = (found[kind] ?? 0) + 1;
    if (problems.length < 60) problems.push(`${kind}: ${text}`);
  };
  const checked = (what: string, n = 1) => {
    checks[what] = (checks[what] ?? 0) + n;
  };

  const models = new Map(ids.map((id) => [id, new IdModel(id)]));
  const model = (id: string) => {
    const found = models.get(id);
    if (!found) throw new Error(`the log names id ${id}, which is not one of the run's`);
    return found;
  };

  // Writes and deletes first: they are what every read is checked against.
  for (const entry of entries) {
    if (entry.op === 'write') {
      const m = model(entry.id);
      const { op: _op, id: _id, ...write } = entry;
      m.writes.push(write);
      const other = m.byRevision.get(entry.rev);
      if (other) {
        problem(
          'duplicate',
          `${entry.id} revision ${entry.rev} was acknowledged twice: to ${who(other)} (${other.kind}) and to ${who(entry)} (${entry.kind})`,
        );
      } else m.byRevision.set(entry.rev, write);
    } else if (entry.op === 'delete') {
      model(entry.id).deletes.push({ p: entry.p, t0: entry.t0, t1: entry.t1 });
    }
  }
  for (const m of models.values()) m.index();

  for (const entry of entries) {
    switch (entry.op) {
      case 'load':
        model(entry.id).reads.push({ ...entry, what: 'loadState' });
        break;
      case 'list': {
        const listed = new Set<string>();
        for (const [id, rev, h] of entry.states) {
          if (listed.has(id)) problem('torn', `listStates of ${who(entry)} returned ${id} twice`);
          listed.add(id);
          model(id).reads.push({ p: entry.p, t0: entry.t0, t1: entry.t1, rev, h, what: 'listStates' });
        }
        for (const id of ids) {
          if (!listed.has(id)) {
            model(id).reads.push({
              p: entry.p,
              t0: entry.t0,
              t1: entry.t1,
              rev: null,
              h: null,
              what: 'listStates',
            });
          }
        }
        checked('listStates calls');
        break;
      }
      case 'revisions': {
        const m = model(entry.id);
        checkRevisionList(m, entry, who, problem);
        const current = entry.revisions.find(([, , isCurrent]) => isCurrent);
        m.reads.push({
          p: entry.p,
          t0: entry.t0,
          t1: entry.t1,
          rev: current ? current[0] : null,
          h: undefined,
          what: 'listRevisions (current)',
        });
        checked('listRevisions calls');
        checked('kept revisions listed', entry.revisions.length);
        break;
      }
      case 'loadRevision': {
        const m = model(entry.id);
        checked('loadRevision calls');
        if (entry.rev === null) break; // not kept (any more): allowed
        if (entry.rev !== entry.asked) {
          problem(
            'torn',
            `${entry.id}: loadRevision(${entry.asked}) of ${who(entry)} returned revision ${entry.rev}`,
          );
          break;
        }
        checkContent(m, { ...entry, what: `loadRevision(${entry.asked})` }, who, problem);
        break;
      }
    }
  }

  for (const m of models.values()) {
    checkWrites(m, who, problem);
    checked('writes', m.writes.length);
    checked('deletes', m.deletes.length);
    for (const read of m.reads) checkRead(m, read, who, problem);
    checked('reads', m.reads.length);
    if (counters.has(m.id)) {
      checkCounter(m, problem);
      checked('counters');
    }
  }
  return { checks, problems, found };
}

type Who = (s: Span) => string;
type Problem = (kind: string, text: string) => void;

function checkWrites(m: IdModel, who: Who, problem: Problem): void {
  for (const write of m.writes) {
    const before = m.lastBefore(write.t0);
    if (before && before.rev >= write.rev) {
      const deleted = m.deletes.some((d) => d.t0 > before.t1 && d.t1 < write.t0);
      problem(
        'order',
        `${m.id}: ${write.kind} of ${who(write)} got revision ${write.rev}, though revision ${before.rev} ` +
          `(${before.kind} of ${who(before)}) was acknowledged before it began` +
          (deleted ? ': the numbering did not go on after a delete' : ''),
      );
    }
    if (write.kind === 'restore') {
      const source = m.byRevision.get(write.from!);
      if (!source) {
        problem(
          'restore',
          `${m.id}: ${who(write)} restored revision ${write.from}, which no write was acknowledged`,
        );
      } else if (source.h !== write.h) {
        problem(
          'restore',
          `${m.id}: ${who(write)} restored revision ${write.from} as revision ${write.rev} with content ${write.h}, not ${source.h}`,
        );
      }
    }
  }
}

/** The content of a revision read is exactly what its write was acknowledged with. */
function checkContent(m: IdModel, read: Read, who: Who, problem: Problem): Write | undefined {
  const write = m.byRevision.get(read.rev!);
  if (!write) {
    problem(
      'unknown',
      `${m.id}: ${read.what} of ${who(read)} saw revision ${read.rev}, which no write was acknowledged`,
    );
    return undefined;
  }
  if (read.h !== undefined && read.h !== write.h) {
    problem(
      'torn',
      `${m.id}: ${read.what} of ${who(read)} saw revision ${read.rev} with content ${read.h}; ` +
        `${write.kind} of ${who(write)} was acknowledged with ${write.h}`,
    );
  }
  if (write.t0 > read.t1) {
    problem(
      'unknown',
      `${m.id}: ${read.what} of ${who(read)} saw revision ${read.rev} before ${who(write)} began writing it`,
    );
  }
  return write;
}

function checkRead(m: IdModel, read: Read, who: Who, problem: Problem): void {
  const last = m.lastBefore(read.t0);
  if (read.rev !== null) {
    const write = checkContent(m, read, who, problem);
    if (!write) return;
    if (last && last.rev > write.rev) {
      problem(
        'stale',
        `${m.id}: ${read.what} of ${who(read)} saw revision ${write.rev}, though revision ${last.rev} ` +
          `(${last.kind} of ${who(last)}) was acknowledged before it began`,
      );
    }
    const deleted = m.deletes.find((d) => d.t0 > write.t1 && d.t1 < read.t0);
    if (deleted) {
      problem(
        'stale',
        `${m.id}: ${read.what} of ${who(read)} saw revision ${write.rev}, though a delete of ${who(deleted)} ` +
          'came after it was acknowledged and before the read began',
      );
    }
    return;
  }
  if (!last) return;
  if (!m.deletes.some((d) => d.t1 > last.t0 && d.t0 < read.t1)) {
    problem(
      'lost',
      `${m.id}: ${read.what} of ${who(read)} found nothing, though revision ${last.rev} (${last.kind} of ${who(last)}) ` +
        'was acknowledged before it began and no delete can have come after it',
    );
  }
}

function checkRevisionList(
  m: IdModel,
  entry: Extract<LogEntry, { op: 'revisions' }>,
  who: Who,
  problem: Problem,
): void {
  let previous = Number.POSITIVE_INFINITY;
  entry.revisions.forEach(([rev, size, current], i) => {
    if (rev >= previous)
      problem(
        'history',
        `${m.id}: listRevisions of ${who(entry)} is not newest first: ${JSON.stringify(entry.revisions)}`,
      );
    previous = rev;
    if (current && i !== 0)
      problem('history', `${m.id}: listRevisions of ${who(entry)} marks revision ${rev} current, not first`);
    const write = m.byRevision.get(rev);
    if (!write) {
      problem(
        'unknown',
        `${m.id}: listRevisions of ${who(entry)} lists revision ${rev}, which no write was acknowledged`,
      );
    } else if (write.size !== size) {
      problem(
        'history',
        `${m.id}: listRevisions of ${who(entry)} gives revision ${rev} ${size} bytes; it was written with ${write.size}`,
      );
    }
  });
}

function checkCounter(m: IdModel, problem: Problem): void {
  const others = m.writes.filter((write) => write.kind !== 'inc');
  if (others.length > 0 || m.deletes.length > 0) {
    problem(
      'counter',
      `${m.id}: a counter was written by ${others.length} other writes and ${m.deletes.length} deletes`,
    );
  }
  const revisions = m.writes.map((write) => write.rev).sort((a, b) => a - b);
  const gaps = revisions.filter((rev, i) => rev !== i + 1);
  if (gaps.length > 0) {
    problem(
      'counter',
      `${m.id}: the increments' revisions are not 1..${revisions.length}: first off ${gaps[0]}`,
    );
  }
  for (const write of m.writes) {
    if (write.count !== write.rev) {
      problem(
        'counter',
        `${m.id}: the increment to ${write.count} got revision ${write.rev}: an increment was lost`,
      );
    }
  }
}
