// The fault loop itself: which cases a recorded call sequence gives, and the tally of their results
// (the summary table of `npm run test:faults`).
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { type CaseResult, type FsyncClaims, type Prepared, prepare, runCase } from './fault-case.js';
import { FAULT_CODES, type Fault } from './fault-fs.js';
import { buildTemplate, type Scenario } from './fault-scenario.js';

/** One case: a fault at one call of the sequence, named for the summary. */
export interface LoopCase {
  /** ENOSPC … EROFS, `short write`, `fsync (file)`, `fsync (folder)`. */
  fault: string;
  /** `once` or `persistent` (short writes: `once` or `repeated`). */
  mode: string;
  plan: Fault;
  /** The fsync claims to check on top of the loop's (fault-case.ts). */
  claims?: FsyncClaims;
}

/**
 * Every call index × the five errnos × once/persistent; every write × short once/repeated; and
 * EIO at the fsync of the temp file and at the fsync of the folder (once/persistent), which get
 * the fsync claims checked on top (see fault-case.ts).
 */
export function casesOf(prepared: Prepared): LoopCase[] {
  const cases: LoopCase[] = [];
  const { calls } = prepared;
  for (const code of FAULT_CODES) {
    for (const persistent of [false, true]) {
      for (let at = 0; at < calls.length; at++) {
        cases.push({
          fault: code,
          mode: persistent ? 'persistent' : 'once',
          plan: { kind: 'errno', code, at, persistent },
        });
      }
    }
  }
  for (const repeated of [false, true]) {
    for (const [at, call] of calls.entries()) {
      if (call.name === 'writeSync')
        cases.push({
          fault: 'short write',
          mode: repeated ? 'repeated' : 'once',
          plan: { kind: 'short', at, repeated },
        });
    }
  }
  for (const persistent of [false, true]) {
    for (const [at, call] of calls.entries()) {
      if (call.name !== 'fsyncSync') continue;
      const fault = call.target === '<folder>' ? 'fsync (folder)' : 'fsync (file)';
      cases.push({
        fault,
        mode: persistent ? 'persistent' : 'once',
        plan: { kind: 'errno', code: 'EIO', at, persistent },
        claims: fault,
      });
    }
  }
  return cases;
}

/** What the cases of one row (operation × fault × mode) came to. */
export interface Row {
  operation: string;
  fault: string;
  mode: string;
  cases: number;
  typedRejections: number;
  resolvedNewState: number;
  /** Rejected after the commit, the new state stored (a failed folder fsync, say). */
  rejectedNewState: number;
  previousIntact: number;
  failures: number;
}

export class FaultTally {
  readonly rows = new Map<string, Row>();
  /** Failing cases, one line each: scenario, fault, call, what went wrong. */
  readonly failures: string[] = [];

  add(prepared: Prepared, loopCase: LoopCase, result: CaseResult): void {
    const { operation } = prepared.scenario;
    const key = `${operation}\0${loopCase.fault}\0${loopCase.mode}`;
    let row = this.rows.get(key);
    if (!row) {
      row = {
        operation,
        fault: loopCase.fault,
        mode: loopCase.mode,
        cases: 0,
        typedRejections: 0,
        resolvedNewState: 0,
        rejectedNewState: 0,
        previousIntact: 0,
        failures: 0,
      };
      this.rows.set(key, row);
    }
    row.cases++;
    if (result.outcome === 'rejected' && result.typed) row.typedRejections++;
    if (result.outcome === 'resolved' && result.disk === 'new') row.resolvedNewState++;
    if (result.outcome === 'rejected' && result.disk === 'new') row.rejectedNewState++;
    if (result.disk === 'previous') row.previousIntact++;
    if (result.failures.length > 0) {
      row.failures++;
      const call = prepared.calls[loopCase.plan.at];
      for (const failure of result.failures) {
        this.failures.push(
          `${prepared.label}, ${loopCase.fault} ${loopCase.mode} at call ${loopCase.plan.at} (${call?.name} ${call?.target}): ${failure}`,
        );
      }
    }
  }

  totals(): Omit<Row, 'operation' | 'fault' | 'mode'> {
    const total = {
      cases: 0,
      typedRejections: 0,
      resolvedNewState: 0,
      rejectedNewState: 0,
      previousIntact: 0,
      failures: 0,
    };
    for (const row of this.rows.values()) {
      for (const field of Object.keys(total) as Array<keyof typeof total>) total[field] += row[field];
    }
    return total;
  }

  /** The summary table: one line per operation × fault × mode, then the totals. */
  table(): string {
    const head = [
      'operation',
      'fault',
      'mode',
      'cases',
      'typed rej.',
      'resolved new',
      'rejected new',
      'prev. intact',
      'failures',
    ];
    const widths = [18, 15, 11, 7, 11, 13, 13, 13, 9];
    const line = (cells: Array<string | number>) =>
      cells
        .map((cell, i) => (i < 3 ? String(cell).padEnd(widths[i]!) : String(cell).padStart(widths[i]!)))
        .join('');
    const lines = [line(head)];
    for (const row of this.rows.values()) {
      lines.push(
        line([
          row.operation,
          row.fault,
          row.mode,
          row.cases,
          row.typedRejections,
          row.resolvedNewState,
          row.rejectedNewState,
          row.previousIntact,
          row.failures,
        ]),
      );
    }
    const total = this.totals();
    lines.push(
      line([
        'total',
        '',
        '',
        total.cases,
        total.typedRejections,
        total.resolvedNewState,
        total.rejectedNewState,
        total.previousIntact,
        total.failures,
      ]),
    );
    return lines.join('\n');
  }
}

/** Builds the scenario's folder and records its sequence, under `root` (a folder of its own). */
export async function prepareScenario(scenario: Scenario, root: string): Promise<Prepared> {
  const template = await buildTemplate(scenario, join(root, 'template'));
  const prepared = await prepare(scenario, root, template);
  // The clean run must pass every check, or no fault case means anything.
  const clean = await runCase(prepared, undefined);
  if (clean.failures.length > 0 || clean.outcome !== 'resolved')
    throw new Error(`${prepared.label} fails without faults: ${clean.failures.join('; ')}`);
  return prepared;
}

/** Runs the given cases of a prepared scenario, adding each result to the tally. */
export async function runCases(
  prepared: Prepared,
  cases: LoopCase[],
  tally: FaultTally,
): Promise<Array<{ loopCase: LoopCase; result: CaseResult }>> {
  const results: Array<{ loopCase: LoopCase; result: CaseResult }> = [];
  for (const loopCase of cases) {
    const result = await runCase(prepared, loopCase.plan, loopCase.claims);
    tally.add(prepared, loopCase, result);
    results.push({ loopCase, result });
  }
  return results;
}

export function removeScenario(prepared: Prepared): void {
  rmSync(prepared.root, { recursive: true, force: true });
}
