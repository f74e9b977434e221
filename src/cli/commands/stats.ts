// plugin-state stats: how many states, how big, which versions, how old.
import type { Command } from 'commander';
import {
  addCommonOptions,
  addExamples,
  addJsonOption,
  type CommonOptions,
  optionsOf,
  wholeNumber,
} from '../options.js';
import { coloursFor } from '../output/colour.js';
import { formatBytes, formatCount, formatDate, printJson } from '../output/format.js';
import { progressBar } from '../output/progress.js';
import { renderTable } from '../output/table.js';
import { forEachPooled } from '../pool.js';
import { redactUrl, withStorage } from '../storage.js';
import { type StateSummary, summarize, warnSkipped } from '../summary.js';

interface StatsOptions extends CommonOptions {
  top: number;
  history?: boolean;
}

export function registerStats(program: Command): void {
  const command = program
    .command('stats')
    .summary('counts, sizes, versions and ages')
    .description(
      'Summarize the storage: number of states, total and largest sizes, schema versions, oldest and newest change.',
    )
    .option('--top <n>', 'how many of the largest states to list', wholeNumber(0), 5)
    .option('--history', "also count the revisions kept in history (reads each state's history)");
  addCommonOptions(command);
  addJsonOption(
    command,
    '{ storage, states, skipped, totalBytes, largest: [...], versions: { "1": n }, oldest, newest, revisions? }',
  );
  addExamples(command, 'plugin-state stats', 'plugin-state stats --history --json');
  command.action(async (_options: StatsOptions, self: Command) => {
    const options = optionsOf<StatsOptions>(self);
    await withStorage(options.storage, async ({ storage, url, skipped }) => {
      const states = (await storage.listStates()).map(summarize);
      const totalBytes = states.reduce((sum, s) => sum + s.size, 0);
      const largest = [...states]
        .sort((a, b) => b.size - a.size || (a.pluginId < b.pluginId ? -1 : 1))
        .slice(0, options.top);
      const versions: Record<string, number> = {};
      for (const s of states) versions[s.version] = (versions[s.version] ?? 0) + 1;
      const byAge = [...states].sort((a, b) => a.lastModified.localeCompare(b.lastModified));
      const oldest = byAge[0];
      const newest = byAge.at(-1);
      let revisions: number | undefined;
      if (options.history && storage.listRevisions) {
        const progress = progressBar('history');
        let done = 0;
        revisions = 0;
        try {
          await forEachPooled(states, async (s) => {
            const kept = await storage.listRevisions!(s.pluginId);
            revisions! += kept.filter((r) => !r.current).length;
            progress.update(++done, states.length);
          });
        } finally {
          progress.finish();
        }
      }
      const stats = {
        storage: redactUrl(url),
        states: states.length,
        skipped: skipped.length,
        totalBytes,
        largest: largest.map(({ pluginId, size, version, revision }) => ({
          pluginId,
          size,
          version,
          revision,
        })),
        versions,
        oldest: oldest ? { pluginId: oldest.pluginId, lastModified: oldest.lastModified } : null,
        newest: newest ? { pluginId: newest.pluginId, lastModified: newest.lastModified } : null,
        ...(revisions === undefined ? {} : { revisions }),
      };
      if (options.json) {
        printJson(stats);
        return;
      }
      printStats(stats, largest);
      warnSkipped(skipped);
    });
  });
}

function printStats(
  stats: {
    storage: string;
    states: number;
    totalBytes: number;
    versions: Record<string, number>;
    oldest: { pluginId: string; lastModified: string } | null;
    newest: { pluginId: string; lastModified: string } | null;
    revisions?: number;
  },
  largest: readonly StateSummary[],
): void {
  const colours = coloursFor(process.stdout);
  const field = (label: string, value: string) => `${colours.dim(label.padEnd(15))} ${value}\n`;
  const when = (entry: { pluginId: string; lastModified: string } | null) =>
    entry ? `${formatDate(new Date(entry.lastModified))}  ${entry.pluginId}` : '-';
  const versions = Object.entries(stats.versions)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([version, count]) => `v${version}: ${formatCount(count)}`)
    .join(', ');
  let text =
    field('storage', stats.storage) +
    field('states', formatCount(stats.states)) +
    field(
      'total size',
      `${formatBytes(stats.totalBytes)}${stats.states > 0 ? ` (average ${formatBytes(Math.round(stats.totalBytes / stats.states))})` : ''}`,
    ) +
    field('versions', versions || '-') +
    field('oldest change', when(stats.oldest)) +
    field('newest change', when(stats.newest));
  if (stats.revisions !== undefined) text += field('kept revisions', formatCount(stats.revisions));
  process.stdout.write(text);
  if (largest.length > 0) {
    process.stdout.write(`\n${colours.bold('largest states')}\n`);
    process.stdout.write(
      renderTable(
        largest,
        [
          { header: 'ID', value: (s) => s.pluginId, style: colours.cyan },
          { header: 'SIZE', align: 'right', value: (s) => formatBytes(s.size) },
          { header: 'VERSION', align: 'right', value: (s) => String(s.version) },
          { header: 'REVISION', align: 'right', value: (s) => String(s.revision ?? '-') },
        ],
        colours.bold,
      ),
    );
  }
}
