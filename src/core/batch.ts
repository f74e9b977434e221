import { BatchError, type BatchFailure } from './errors.js';
import type { Reporter } from './report.js';

/** One plugin's share of a call over many plugins. */
export interface BatchTask {
  pluginId: string;
  run(): Promise<void>;
}

/**
 * Runs every task, concurrently, and waits for all of them: one plugin failing must not keep the
 * others from being saved or loaded. Each failure is reported; if any failed, one `BatchError`
 * lists them all, in the order the tasks were given.
 */
export async function runBatch(
  operation: string,
  tasks: readonly BatchTask[],
  reporter: Reporter,
): Promise<void> {
  // `async` so that a task throwing synchronously is collected like any other failure.
  const outcomes = await Promise.allSettled(tasks.map(async (task) => task.run()));
  const failures: BatchFailure[] = [];
  outcomes.forEach((outcome, index) => {
    if (outcome.status === 'fulfilled') return;
    const pluginId = tasks[index]!.pluginId;
    reporter.failure(operation, pluginId, outcome.reason);
    failures.push({ pluginId, error: outcome.reason });
  });
  if (failures.length > 0) throw new BatchError(operation, failures, tasks.length);
}
