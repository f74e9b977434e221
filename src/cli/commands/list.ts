// plugin-state list: every stored state, one line each.
import type { Command } from 'commander';
import { addCommonOptions, addExamples, addJsonOption, type CommonOptions, optionsOf } from '../options.js';
import { coloursFor } from '../output/colour.js';
import { formatBytes, formatDate, plural, printJson } from '../output/format.js';
import { renderTable } from '../output/table.js';
import { withStorage } from '../storage.js';
import { type StateSummary, skippedRecord, summarize, warnSkipped } from '../summary.js';

export function registerList(program: Command): void {
  const command = program
    .command('list')
    .summary('list every stored state')
    .description('List every stored state: id, version, revision, size and last change, sorted by id.');
  addCommonOptions(command);
  addJsonOption(
    command,
    '{ "states": [{ pluginId, version, revision, size, lastModified }], "skipped": [...] }',
  );
  addExamples(command, 'plugin-state list', "plugin-state list --json | jq -r '.states[].pluginId'");
  command.action(async (_options: CommonOptions, self: Command) => {
    const options = optionsOf<CommonOptions>(self);
    await withStorage(options.storage, async ({ storage, skipped }) => {
      const states = (await storage.listStates()).map(summarize);
      states.sort((a, b) => (a.pluginId < b.pluginId ? -1 : a.pluginId > b.pluginId ? 1 : 0));
      if (options.json) {
        printJson({ states, skipped: skipped.map(skippedRecord) });
        return;
      }
      printList(states);
      warnSkipped(skipped);
    });
  });
}

function printList(states: readonly StateSummary[]): void {
  const colours = coloursFor(process.stdout);
  if (states.length === 0) {
    process.stdout.write('No states stored.\n');
    return;
  }
  process.stdout.write(
    renderTable(
      states,
      [
        { header: 'ID', value: (s) => s.pluginId, style: colours.cyan },
        { header: 'VERSION', align: 'right', value: (s) => String(s.version) },
        { header: 'REVISION', align: 'right', value: (s) => String(s.revision ?? '-') },
        { header: 'SIZE', align: 'right', value: (s) => formatBytes(s.size) },
        { header: 'LAST MODIFIED', value: (s) => formatDate(new Date(s.lastModified)) },
      ],
      colours.bold,
    ),
  );
  process.stdout.write(colours.dim(`${plural(states.length, 'state')}\n`));
}
