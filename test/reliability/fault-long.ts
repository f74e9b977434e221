// The long form of the fault loop: `npm run test:faults`. Every operation of fault-loop.test.ts
// with history 0, 1 and 10 and states of 100 B, 20 KiB (read whole when inspected up to 16 KiB,
// by head and tail past it), 100 KiB (past the list cache's 64 KiB) and 1 MiB, plus the 100 B
// operations on a warm store (its lock owner file and journal already set up). Each scenario runs
// every call index × 5 errnos × once/persistent, short writes and fsync failures, with the checks
// of fault-case.ts. Prints one line per scenario, then a table operation × fault × mode, the
// failures folded by kind, and the total; exits with code 1 if any check failed.
//
//   PLUGIN_STATE_FAULT_DIR   where the scenarios' folders go (the system's temp folder)
//
// Every failing check is written, one line each, to failures.txt in a folder kept for it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { casesOf, FaultTally, prepareScenario, runCases } from './fault-loop.js';
import { OPERATIONS, type Scenario, scenarioLabel } from './fault-scenario.js';

const base = process.env.PLUGIN_STATE_FAULT_DIR ?? tmpdir();
const scenarios: Scenario[] = [];
for (const size of [100, 20 * 1024, 100 * 1024, 1024 * 1024]) {
  for (const history of [0, 1, 10]) {
    for (const operation of OPERATIONS) scenarios.push({ operation, history, size, warm: false });
  }
}
for (const operation of OPERATIONS) scenarios.push({ operation, history: 10, size: 100, warm: true });

const tally = new FaultTally();
const sequences: string[] = [];
const started = performance.now();
console.log(`fault loop: ${scenarios.length} scenarios, folders under ${base}`);
for (const scenario of scenarios) {
  const root = mkdtempSync(join(base, 'plugin-state-faults-'));
  const began = performance.now();
  const failedBefore = tally.failures.length;
  const prepared = await prepareScenario(scenario, root);
  const cases = casesOf(prepared);
  const results = await runCases(prepared, cases, tally);
  rmSync(root, { recursive: true, force: true });
  const failing = results.filter(({ result }) => result.failures.length > 0).length;
  sequences.push(
    `${scenarioLabel(scenario)}: ${prepared.calls.length} calls, commit at call ${prepared.commitAt}`,
  );
  console.log(
    `  ${scenarioLabel(scenario).padEnd(50)} ${String(prepared.calls.length).padStart(3)} calls ` +
      `${String(cases.length).padStart(4)} cases ${String(failing).padStart(4)} failing ` +
      `(${tally.failures.length - failedBefore} checks) ${((performance.now() - began) / 1000).toFixed(1)} s`,
  );
}
const seconds = (performance.now() - started) / 1000;

console.log('\nfault loop summary (operation × fault × mode, over every size, history setting and store)\n');
console.log(tally.table());

// The failures folded by what failed: how many checks, in which operations, at which calls.
const byKind = new Map<string, { count: number; where: Set<string> }>();
for (const line of tally.failures) {
  const match = /^(.*?) \(.*?\), (.*?) at call \d+ \(([^)]*)\): (.*)$/s.exec(line);
  const [operation, fault, call, failure] = match
    ? [match[1]!, match[2]!, match[3]!, match[4]!]
    : ['?', '?', '?', line];
  const kind = failure.replace(/\b\d+\b/g, 'N'); // revisions, pids, timeouts
  const entry = byKind.get(kind) ?? { count: 0, where: new Set<string>() };
  entry.count++;
  entry.where.add(`${operation}: ${fault} at ${call}`);
  byKind.set(kind, entry);
}
const total = tally.totals();
if (byKind.size > 0) {
  console.log(`\nfailed checks by kind (${tally.failures.length} checks in ${total.failures} cases)`);
  for (const [kind, { count, where }] of [...byKind].sort((a, b) => b[1].count - a[1].count)) {
    const examples = [...where];
    console.log(`  ${String(count).padStart(5)}  ${kind}`);
    console.log(
      `         e.g. ${examples.slice(0, 3).join('; ')}${examples.length > 3 ? `; … (${examples.length} places)` : ''}`,
    );
  }
  const kept = mkdtempSync(join(base, 'plugin-state-faults-failures-'));
  writeFileSync(join(kept, 'failures.txt'), `${tally.failures.join('\n')}\n`);
  console.log(`\nevery failed check, one per line: ${join(kept, 'failures.txt')}`);
}
console.log('\nrecorded sequences');
for (const line of sequences) console.log(`  ${line}`);
console.log(
  `\n${total.cases} cases in ${seconds.toFixed(0)} s: ${total.typedRejections} typed rejections, ` +
    `${total.resolvedNewState} resolved with the new state, ${total.rejectedNewState} rejected after the commit ` +
    `with the new state, ${total.previousIntact} left the previous state; ${total.failures} cases failed.`,
);
process.exitCode = total.failures > 0 ? 1 : 0;
