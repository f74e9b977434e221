// plugin-state ui: serve the state management web UI on the storage until SIGINT or SIGTERM.
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
import { printJson } from '../output/format.js';
import { redactUrl, withStorage } from '../storage.js';

interface UiOptions extends CommonOptions {
  host: string;
  port: number;
}

export function registerUi(program: Command): void {
  const command = program
    .command('ui')
    .summary('serve the web UI until Ctrl-C')
    .description(
      'Serve the web UI for the storage and print its URL, which carries a random access token. ' +
        'Runs until Ctrl-C (SIGINT) or SIGTERM, then closes cleanly.',
    )
    .option(
      '--host <address>',
      'the address to listen on; anything but loopback exposes the UI to other machines',
      '127.0.0.1',
    )
    .option('--port <n>', 'the port (0: a free one)', wholeNumber(0, 65535), 0);
  addCommonOptions(command);
  addJsonOption(command, '{ url, port } once listening');
  addExamples(command, 'plugin-state ui', 'plugin-state ui --port 8080 --storage sqlite:./states.db');
  command.action(async (_options: UiOptions, self: Command) => {
    const options = optionsOf<UiOptions>(self);
    await withStorage(options.storage, async ({ storage, url }) => {
      // Loaded only here, so the other commands never pay for the UI's code.
      const { startUiServer } = await import('../../ui/index.js');
      const stopped = waitForSignal();
      const server = await startUiServer({ storage, host: options.host, port: options.port });
      try {
        if (options.json) printJson({ url: server.url, port: server.port });
        else {
          const colours = coloursFor(process.stdout);
          process.stdout.write(`${server.url}\n`);
          process.stderr.write(
            `${colours.dim(`serving ${redactUrl(url)} on port ${server.port}; press Ctrl-C to stop`)}\n`,
          );
        }
        const signal = await stopped;
        process.stderr.write(`${signal}: stopping the UI\n`);
      } finally {
        await server.close();
      }
    });
  });
}

/** Resolves with the first SIGINT or SIGTERM (and keeps a second one from killing the close). */
function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.removeListener('SIGINT', on);
      process.removeListener('SIGTERM', on);
      process.once('SIGINT', () => undefined);
      process.once('SIGTERM', () => undefined);
      resolve(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}
