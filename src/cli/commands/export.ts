// plugin-state export [file]: every current state as one JSON document, to a file or stdout.
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import { EXPORT_FOOTER, exportHeader, exportLine } from '../../backup/export-format.js';
import { createAtomicFile } from '../io.js';
import { addCommonOptions, addExamples, type CommonOptions, optionsOf } from '../options.js';
import { CliError, Exit } from '../output/errors.js';
import { plural } from '../output/format.js';
import { progressBar } from '../output/progress.js';
import { withStorage } from '../storage.js';
import { warnSkipped } from '../summary.js';

export function registerExport(program: Command): void {
  const command = program
    .command('export')
    .summary('write every state as one JSON document')
    .description(
      "Write every current state as one JSON document (no history; 'backup' keeps history and checksums). " +
        'A file is written atomically with mode 0600.',
    )
    .argument('[file]', 'where to write it; - or nothing for stdout');
  addCommonOptions(command);
  addExamples(
    command,
    'plugin-state export states.json',
    "plugin-state export | jq '.states | length'",
    'plugin-state export --storage sqlite:./states.db | plugin-state import - --storage file:./copy',
  );
  command.action(async (file: string | undefined, _options: CommonOptions, self: Command) => {
    const options = optionsOf<CommonOptions>(self);
    const toStdout = file === undefined || file === '-';
    await withStorage(options.storage, async ({ storage, skipped }) => {
      const states = await storage.listStates();
      states.sort((a, b) => (a.pluginId < b.pluginId ? -1 : a.pluginId > b.pluginId ? 1 : 0));
      const sink = toStdout ? stdoutSink(process.stdout) : await createAtomicFile(file);
      const progress = progressBar('export');
      try {
        await sink.write(exportHeader(new Date()));
        let chunk = '';
        for (const [index, state] of states.entries()) {
          chunk += exportLine(state, index === states.length - 1);
          if (chunk.length > 64 * 1024) {
            await sink.write(chunk);
            chunk = '';
          }
          progress.update(index + 1, states.length);
        }
        await sink.write(chunk + EXPORT_FOOTER);
        await sink.commit();
      } catch (error) {
        await sink.abort();
        throw error;
      } finally {
        progress.finish();
      }
      if (!toStdout) process.stderr.write(`exported ${plural(states.length, 'state')} to ${file}\n`);
      if (skipped.length > 0) {
        warnSkipped(skipped);
        process.stderr.write(
          `the export is missing ${plural(skipped.length, 'unreadable record')}; repair them (see 'plugin-state verify') and export again\n`,
        );
        throw new Exit(1);
      }
    });
  });
}

/** stdout as a sink, honouring backpressure (a slow pipe must not fill memory). */
function stdoutSink(stream: Writable) {
  return {
    write: (text: string) =>
      new Promise<void>((resolve, reject) => {
        stream.write(text, (error) => (error ? reject(toCliError(error)) : resolve()));
      }),
    commit: async () => {},
    abort: async () => {},
  };
}

function toCliError(error: Error): Error {
  return new CliError(`cannot write to stdout: ${error.message}`, undefined, { cause: error });
}
