// plugin-state history <id>: the revisions kept of a state, newest first.
import type { Command } from 'commander';
import { describeId, resolveId } from '../ids.js';
import {
  addCommonOptions,
  addExamples,
  addJsonOption,
  type CommonOptions,
  ID_HELP,
  optionsOf,
} from '../options.js';
import { coloursFor } from '../output/colour.js';
import { formatBytes, formatDate, printJson } from '../output/format.js';
import { renderTable } from '../output/table.js';
import { requireHistory, withStorage } from '../storage.js';

export function registerHistory(program: Command): void {
  const command = program
    .command('history')
    .summary('list the revisions kept of a state')
    .description('List the revisions kept of a state, newest first (the current one is marked).')
    .argument('<id>', ID_HELP);
  addCommonOptions(command);
  addJsonOption(command, '{ pluginId, revisions: [{ revision, version, lastModified, size, current }] }');
  addExamples(command, 'plugin-state history com.acme.theme', 'plugin-state history com.acme.theme --json');
  command.action(async (input: string, _options: CommonOptions, self: Command) => {
    const options = optionsOf<CommonOptions>(self);
    const id = resolveId(input);
    await withStorage(options.storage, async ({ storage }) => {
      const revisions = await requireHistory(storage).listRevisions(id.pluginId);
      if (options.json) {
        printJson({
          pluginId: id.pluginId,
          revisions: revisions.map((r) => ({ ...r, lastModified: r.lastModified.toISOString() })),
        });
        return;
      }
      if (revisions.length === 0) {
        process.stdout.write(`no revisions are kept for ${describeId(id)}\n`);
        return;
      }
      const colours = coloursFor(process.stdout);
      process.stdout.write(
        renderTable(
          revisions,
          [
            { header: 'REVISION', align: 'right', value: (r) => String(r.revision) },
            { header: 'VERSION', align: 'right', value: (r) => String(r.version) },
            { header: 'SIZE', align: 'right', value: (r) => formatBytes(r.size) },
            { header: 'LAST MODIFIED', value: (r) => formatDate(r.lastModified) },
            { header: '', value: (r) => (r.current ? 'current' : ''), style: colours.green },
          ],
          colours.bold,
        ),
      );
      if (!revisions.some((r) => r.current)) {
        process.stdout.write(colours.dim('the state is deleted; restore a revision to bring it back\n'));
      }
    });
  });
}
