// plugin-state verify: read every state and every kept revision; report what cannot be read.
import type { Command } from 'commander';
import {
  DEFAULT_LIMITS,
  type PluginState,
  PluginStateError,
  type PluginStateStorage,
  type StateReport,
} from '../../index.js';
import {
  addCommonOptions,
  addExamples,
  addJsonOption,
  type CommonOptions,
  optionsOf,
  wholeNumber,
} from '../options.js';
import { coloursFor } from '../output/colour.js';
import { Exit } from '../output/errors.js';
import { formatBytes, jsonDepth, jsonSize, plural, printJson } from '../output/format.js';
import { progressBar } from '../output/progress.js';
import { forEachPooled } from '../pool.js';
import { redactUrl, withStorage } from '../storage.js';

interface VerifyOptions extends CommonOptions {
  maxBytes: number;
  maxDepth: number;
}

/** One record that is not fine. */
export interface Finding {
  /** corrupt: the bytes do not hold a valid record; unreadable: the medium failed; over-limit: too big or too deep. */
  kind: 'corrupt' | 'unreadable' | 'over-limit';
  pluginId: string;
  /** The kept revision, or null for the current state. */
  revision: number | null;
  /** The file, row or table involved, as the storage names it. */
  location: string;
  code?: string;
  message: string;
}

export function registerVerify(program: Command): void {
  const command = program
    .command('verify')
    .summary('read every record; report corrupt or over-limit ones')
    .description(
      'Read every state and every revision kept in history, and report each record that is corrupt, ' +
        'unreadable or over the limits, with its location. Exits 1 if it finds any. Writes nothing.',
    )
    .option('--max-bytes <n>', 'the size limit to check against', wholeNumber(2), DEFAULT_LIMITS.maxBytes)
    .option('--max-depth <n>', 'the nesting limit to check against', wholeNumber(1), DEFAULT_LIMITS.maxDepth);
  addCommonOptions(command);
  addJsonOption(
    command,
    '{ ok, storage, checked: { states, revisions }, findings: [{ kind, pluginId, revision, location, message }] }',
  );
  addExamples(command, 'plugin-state verify', 'plugin-state verify --storage sqlite:./states.db --json');
  command.action(async (_options: VerifyOptions, self: Command) => {
    const options = optionsOf<VerifyOptions>(self);
    const limits = { maxBytes: options.maxBytes, maxDepth: options.maxDepth };
    await withStorage(
      options.storage,
      async ({ storage, url, skipped, reports }) => {
        const listed = await storage.listStates();
        const ids = [
          ...new Set([...listed.map((s) => s.pluginId), ...skipped.map((r) => r.pluginId!)]),
        ].sort();
        const findings: Finding[] = [];
        let revisions = 0;
        const progress = progressBar('verify');
        let done = 0;
        try {
          await forEachPooled(ids, async (pluginId) => {
            const check = new RecordCheck(pluginId, url, limits, findings);
            await check.current(storage);
            revisions += await check.history(storage);
            progress.update(++done, ids.length);
          });
        } finally {
          progress.finish();
        }
        findings.push(...skippedRevisions(reports, findings));
        findings.sort((a, b) =>
          a.pluginId === b.pluginId
            ? (b.revision ?? Infinity) - (a.revision ?? Infinity)
            : a.pluginId < b.pluginId
              ? -1
              : 1,
        );
        report(findings, { states: ids.length, revisions }, url, options.json === true);
        if (findings.length > 0) throw new Exit(1);
      },
      { limits: { maxDepth: Math.max(options.maxDepth, DEFAULT_LIMITS.maxDepth) } },
    );
  });
}

/** The checks of one state: its current record, then each revision kept in history. */
class RecordCheck {
  constructor(
    private readonly pluginId: string,
    private readonly url: string,
    private readonly limits: { maxBytes: number; maxDepth: number },
    private readonly findings: Finding[],
  ) {}

  async current(storage: PluginStateStorage): Promise<void> {
    const state = await this.read(null, () => storage.loadState(this.pluginId));
    if (state) this.checkLimits(state, null);
  }

  /** Checks the revisions in history; returns how many were read. */
  async history(storage: PluginStateStorage): Promise<number> {
    if (!storage.listRevisions || !storage.loadRevision) return 0;
    const list = await this.read(null, () => storage.listRevisions!(this.pluginId));
    let read = 0;
    for (const info of list ?? []) {
      if (info.current) continue;
      const state = await this.read(info.revision, () => storage.loadRevision!(this.pluginId, info.revision));
      if (!state) continue; // dropped from history by a save since the list
      read++;
      this.checkLimits(state, info.revision);
    }
    return read;
  }

  /** Runs a read; a library error becomes a finding, anything else is a failure of verify itself. */
  private async read<T>(revision: number | null, load: () => Promise<T>): Promise<T | undefined> {
    try {
      return await load();
    } catch (error) {
      if (!(error instanceof PluginStateError)) throw error;
      const tooDeep = /deeper than the limit/.test(error.message);
      this.findings.push({
        kind: tooDeep
          ? 'over-limit'
          : error.code === 'SERIALIZATION' || error.code === 'INTEGRITY'
            ? 'corrupt'
            : 'unreadable',
        pluginId: this.pluginId,
        revision,
        location: error.location ?? this.place(revision),
        code: error.code,
        message: error.message,
      });
      return undefined;
    }
  }

  private checkLimits(state: PluginState, revision: number | null): void {
    const size = jsonSize(state.data);
    const depth = jsonDepth(state.data);
    const problems: string[] = [];
    if (size > this.limits.maxBytes) {
      problems.push(
        `its data is ${formatBytes(size)} (${size} bytes), over the limit of ${this.limits.maxBytes} bytes`,
      );
    }
    if (depth > this.limits.maxDepth) {
      problems.push(`its data nests ${depth} levels, over the limit of ${this.limits.maxDepth}`);
    }
    if (problems.length === 0) return;
    this.findings.push({
      kind: 'over-limit',
      pluginId: this.pluginId,
      revision,
      location: this.place(revision),
      message: `${problems.join('; ')}; the next save of it will be refused until it is made smaller`,
    });
  }

  /** Where a record is, when the storage did not say: the storage and the record's id. */
  private place(revision: number | null): string {
    return `${redactUrl(this.url)} plugin ${this.pluginId} ${revision === null ? 'current' : `revision ${revision}`}`;
  }
}

/**
 * Records a listing of revisions left out as unreadable (a storage reports them rather than
 * failing the listing), less those already found by reading them.
 */
function skippedRevisions(reports: readonly StateReport[], found: readonly Finding[]): Finding[] {
  const known = new Set(found.map((f) => f.location));
  const extra: Finding[] = [];
  for (const report of reports) {
    if (report.operation !== 'listRevisions' || report.pluginId === undefined) continue;
    const error = report.error instanceof PluginStateError ? report.error : undefined;
    const location = error?.location ?? `plugin ${report.pluginId}`;
    if (known.has(location)) continue;
    known.add(location);
    // The report names the revision only in its message ("the history file of revision 3").
    const revision = /\brevision (\d+) of plugin\b/.exec(report.message)?.[1];
    extra.push({
      kind: report.code === 'SERIALIZATION' ? 'corrupt' : 'unreadable',
      pluginId: report.pluginId,
      revision: revision === undefined ? null : Number(revision),
      location,
      ...(report.code === undefined ? {} : { code: report.code }),
      message: error?.message ?? report.message,
    });
  }
  return extra;
}

function report(
  findings: readonly Finding[],
  checked: { states: number; revisions: number },
  url: string,
  json: boolean,
): void {
  if (json) {
    printJson({ ok: findings.length === 0, storage: redactUrl(url), checked, findings });
    return;
  }
  const colours = coloursFor(process.stdout);
  for (const finding of findings) {
    const which = finding.revision === null ? 'current' : `revision ${finding.revision}`;
    process.stdout.write(
      `${colours.red(finding.kind.padEnd(10))} ${colours.cyan(finding.pluginId)} ${which} at ${finding.location}\n` +
        `           ${finding.message}\n`,
    );
  }
  const summary = `checked ${plural(checked.states, 'state')} and ${plural(checked.revisions, 'kept revision')} in ${redactUrl(url)}`;
  process.stdout.write(
    findings.length === 0
      ? `${colours.green('ok')} ${summary}: every record is readable and within the limits\n`
      : `${colours.red(plural(findings.length, 'problem'))} found; ${summary}\n`,
  );
}
