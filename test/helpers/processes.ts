// Runs the child-process scripts of this folder with real Node processes (TypeScript through tsx),
// and talks to them line by line over stdin/stdout.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const HELPERS = fileURLToPath(new URL('.', import.meta.url));

/** The path of `test/helpers/<name>`. */
export function helperScript(name: string): string {
  return `${HELPERS}${name}`;
}

/** The script every cross-process test runs: see state-worker.ts for its commands. */
export const WORKER = helperScript('state-worker.ts');

/** A process racing others on one counter: see contention-worker.ts. */
export const CONTENTION_WORKER = helperScript('contention-worker.ts');

/** The SQLite cross-process script: see sqlite-worker.ts for its commands. */
export const SQLITE_WORKER = helperScript('sqlite-worker.ts');

/** The Postgres cross-process script: see postgres-worker.ts for its commands. */
export const POSTGRES_WORKER = helperScript('postgres-worker.ts');

export interface ChildOptions {
  /** Runs the script with umask 000 (WORKER_UMASK=0, see state-worker.ts). */
  umask?: boolean;
  /** The script to run; state-worker.ts unless told. */
  script?: string;
  /** Extra environment variables, over this process's own. */
  env?: NodeJS.ProcessEnv;
  /** Extra node arguments (such as `--import <module>` for loader hooks), after `--import tsx`. */
  nodeArgs?: string[];
  /** How long nextLine waits by default; 20 s unless told. */
  lineTimeoutMs?: number;
  /** What failures call the child; "child" unless told. */
  label?: string;
}

/** A running child with a line-based view of its stdout. */
export class Child {
  readonly process: ChildProcessWithoutNullStreams;
  private readonly lines: string[] = [];
  private readonly waiting: Array<(line: string | undefined) => void> = [];
  private stderr = '';
  private ended = false;
  private readonly lineTimeoutMs: number;
  private readonly label: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[], options: ChildOptions = {}) {
    this.lineTimeoutMs = options.lineTimeoutMs ?? 20_000;
    this.label = options.label ?? 'child';
    const nodeArgs = ['--import', 'tsx', ...(options.nodeArgs ?? []), options.script ?? WORKER, ...args];
    this.process = spawn(process.execPath, nodeArgs, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...options.env, ...(options.umask ? { WORKER_UMASK: '0' } : {}) },
    });
    let partial = '';
    this.process.stdout.setEncoding('utf8');
    this.process.stdout.on('data', (chunk: string) => {
      partial += chunk;
      let newline = partial.indexOf('\n');
      while (newline >= 0) {
        this.push(partial.slice(0, newline));
        partial = partial.slice(newline + 1);
        newline = partial.indexOf('\n');
      }
    });
    this.process.stdout.on('end', () => {
      this.ended = true;
      for (const resolve of this.waiting.splice(0)) resolve(undefined);
    });
    this.process.stderr.setEncoding('utf8');
    this.process.stderr.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = once(this.process, 'exit').then(([code, signal]) => ({
      code: code as number | null,
      signal: signal as NodeJS.Signals | null,
    }));
  }

  /**
   * The next line the child prints. It resolves inside the stdout 'data' callback (the event loop's
   * poll phase), so whatever the caller does next runs "right after the child reported".
   */
  nextLine(timeoutMs = this.lineTimeoutMs): Promise<string> {
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      if (this.ended) {
        reject(this.failure('ended its output'));
        return;
      }
      const timer = setTimeout(() => reject(this.failure(`printed nothing for ${timeoutMs} ms`)), timeoutMs);
      this.waiting.push((line) => {
        clearTimeout(timer);
        if (line === undefined) reject(this.failure('ended its output'));
        else resolve(line);
      });
    });
  }

  /** The next line, parsed as JSON. */
  async nextJson<T = Record<string, unknown>>(timeoutMs?: number): Promise<T> {
    const line = await this.nextLine(timeoutMs);
    try {
      return JSON.parse(line) as T;
    } catch {
      throw this.failure(`printed ${JSON.stringify(line)}, not JSON`);
    }
  }

  send(message: unknown): void {
    this.process.stdin.write(`${typeof message === 'string' ? message : JSON.stringify(message)}\n`);
  }

  /** Sends a JSON command and returns the JSON answer. */
  async ask<T = Record<string, unknown>>(message: unknown): Promise<T> {
    this.send(message);
    return this.nextJson<T>();
  }

  /** Closes stdin and waits for a clean exit. */
  async finish(): Promise<void> {
    this.process.stdin.end();
    const { code, signal } = await this.exited;
    if (code !== 0) throw this.failure(`exited with code ${code} (signal ${signal})`);
  }

  async kill(): Promise<void> {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill('SIGKILL');
    await this.exited; // resolves once the child is reaped: its pid is gone, not a zombie
  }

  failure(what: string): Error {
    return new Error(`${this.label} ${this.process.pid} ${what}; stderr:\n${this.stderr}`);
  }

  private push(line: string): void {
    const resolve = this.waiting.shift();
    if (resolve) resolve(line);
    else this.lines.push(line);
  }
}

/** Runs one worker command to completion and returns its last line as JSON. */
export async function runWorker<T = Record<string, unknown>>(
  args: string[],
  options?: ChildOptions,
): Promise<T> {
  const child = new Child(args, options);
  const lines: string[] = [];
  for (;;) {
    try {
      lines.push(await child.nextLine());
    } catch {
      break;
    }
  }
  const { code, signal } = await child.exited;
  if (code !== 0 || lines.length === 0) throw child.failure(`exited with code ${code} (signal ${signal})`);
  return JSON.parse(lines.at(-1)!) as T;
}
