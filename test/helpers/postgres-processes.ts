// Runs the Postgres child scripts of this folder as real Node processes (TypeScript through tsx),
// and talks to them line by line.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const HELPERS = fileURLToPath(new URL('.', import.meta.url));

export class ScriptChild {
  readonly process: ChildProcessWithoutNullStreams;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly lines: AsyncIterator<string>;
  private stderr = '';

  /** Starts `test/helpers/<script>` with `args`; `imports` are modules loaded before it (--import). */
  constructor(script: string, args: string[], imports: string[] = []) {
    const preload = imports.flatMap((name) => ['--import', `${HELPERS}${name}`]);
    this.process = spawn(process.execPath, ['--import', 'tsx', ...preload, `${HELPERS}${script}`, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.process.stderr.setEncoding('utf8');
    this.process.stderr.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.lines = createInterface({ input: this.process.stdout })[Symbol.asyncIterator]();
    this.exited = once(this.process, 'exit').then(([code, signal]) => ({
      code: code as number | null,
      signal: signal as NodeJS.Signals | null,
    }));
  }

  /** The next line the child prints; a failure with its stderr if it prints nothing in time. */
  async nextLine(timeoutMs = 30_000): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.failure(`printed nothing for ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const next = await Promise.race([this.lines.next(), timeout]);
      if (next.done) throw this.failure('ended its output');
      return next.value;
    } finally {
      clearTimeout(timer);
    }
  }

  async nextJson<T>(timeoutMs?: number): Promise<T> {
    const line = await this.nextLine(timeoutMs);
    try {
      return JSON.parse(line) as T;
    } catch {
      throw this.failure(`printed ${JSON.stringify(line)}, not JSON`);
    }
  }

  send(line: string): void {
    this.process.stdin.write(`${line}\n`);
  }

  /** Closes stdin and waits for a clean exit. */
  async finish(): Promise<void> {
    this.process.stdin.end();
    const { code, signal } = await this.exited;
    if (code !== 0) throw this.failure(`exited with code ${code} (signal ${signal})`);
  }

  async kill(): Promise<void> {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill('SIGKILL');
    await this.exited;
  }

  failure(what: string): Error {
    return new Error(`child ${this.process.pid} ${what}; stderr:\n${this.stderr}`);
  }
}
