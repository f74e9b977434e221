// Runs the `plugin-state` command in a child process, as a person or a script would, and seeds
// stores through the library (never through the command under test).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openStorage, type PluginStateStorage } from '../../src/index.js';
import { durableBackends } from '../helpers/backends.js';

const SOURCE_ENTRY = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
export const BUILT_ENTRY = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
/** tsx by URL, so the child may run in any working directory. */
const TSX = import.meta.resolve('tsx');

/** The file and SQLite stores every command is tested against. */
export const cliBackends = durableBackends.filter((backend) => backend.name !== 'postgres');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall time of the whole process, start-up included. */
  ms: number;
}

export interface RunOptions {
  cwd?: string;
  /** Added to the environment (which has no PLUGIN_STATE_*, NO_COLOR or FORCE_COLOR of its own). */
  env?: Record<string, string>;
  /** Written to stdin, which is then closed. */
  input?: string;
  /** Run the built dist/cli/main.js instead of the source. */
  built?: boolean;
}

/** Runs `plugin-state ...args` and collects its output. */
export function runCli(args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['PLUGIN_STATE_URL', 'PLUGIN_STATE_DIR', 'NO_COLOR', 'FORCE_COLOR', 'NODE_OPTIONS']) {
    delete env[name];
  }
  Object.assign(env, options.env);
  const entry = options.built ? [BUILT_ENTRY] : ['--import', TSX, SOURCE_ENTRY];
  const started = performance.now();
  const child = spawn(process.execPath, [...entry, ...args], {
    cwd: options.cwd,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin.end(options.input ?? '');
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: performance.now() - started }));
  });
}

/** Asserts-friendly view of an error: stderr must be exactly one line (two for usage errors). */
export function lines(text: string): string[] {
  return text.split('\n').filter((line) => line !== '');
}

/** Opens a store in this process, runs `work`, closes it. */
export async function withStore<T>(
  url: string,
  work: (storage: PluginStateStorage) => Promise<T>,
): Promise<T> {
  const storage = await openStorage(url);
  try {
    return await work(storage);
  } finally {
    await storage.close?.();
  }
}

/** Saves `data` for `pluginId` through the library; returns the stored revision. */
export async function seed(
  url: string,
  states: Array<{ pluginId: string; data: unknown; version?: number }>,
) {
  return withStore(url, async (storage) => {
    const revisions: number[] = [];
    for (const state of states) {
      const saved = await storage.saveState({
        pluginId: state.pluginId,
        data: state.data as never,
        version: state.version ?? 1,
        lastModified: new Date(),
      });
      revisions.push(saved.revision ?? 0);
    }
    return revisions;
  });
}

/** Matches any ANSI escape sequence. */
export const ESCAPE = new RegExp(String.fromCharCode(27));
