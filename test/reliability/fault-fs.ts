// The file system of the fault loop: node:fs behind the FileSystemApi shape, recording every call
// while armed and failing the Nth one (once, or every call from it on) with an errno, or turning
// writes short. See fault-loop.test.ts for what the loop checks.
import { basename } from 'node:path';
import { type FileSystemApi, nodeFileSystem } from '../../src/index.js';

export type FaultCode = 'ENOSPC' | 'EIO' | 'EACCES' | 'EMFILE' | 'EROFS';
export const FAULT_CODES: readonly FaultCode[] = ['ENOSPC', 'EIO', 'EACCES', 'EMFILE', 'EROFS'];

/** What goes wrong, from call `at` (0-based, counted from arming) of the operation. */
export type Fault =
  | { kind: 'errno'; code: FaultCode; at: number; persistent: boolean }
  /** writeSync writes about half of what it was asked (at least 1 byte) and says so. */
  | { kind: 'short'; at: number; repeated: boolean };

/** One call of the operation: the function and what it touched (`<id>`, `*` for random parts). */
export interface FsCall {
  name: keyof FileSystemApi;
  target: string;
}

const SYSCALLS: Partial<Record<keyof FileSystemApi, string>> = {
  openSync: 'open',
  closeSync: 'close',
  writeSync: 'write',
  readSync: 'read',
  fstatSync: 'fstat',
  fsyncSync: 'fsync',
  renameSync: 'rename',
  unlinkSync: 'unlink',
  readFileSync: 'open',
  readdirSync: 'scandir',
  mkdirSync: 'mkdir',
  statSync: 'stat',
  lstatSync: 'lstat',
  accessSync: 'access',
  linkSync: 'link',
  existsSync: 'access',
  chmodSync: 'chmod',
};

function systemError(code: string, syscall: string, path: string | undefined): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(
    `${code}: injected failure, ${syscall}${path ? ` '${path}'` : ''}`,
  );
  error.code = code;
  error.errno = -1;
  error.syscall = syscall;
  if (path) error.path = path;
  return error;
}

/**
 * node:fs with a recorder and one fault plan. Disarmed it only tracks descriptors (so that calls on
 * a descriptor opened earlier, such as the folder's, are named); armed, it numbers every call.
 */
export class FaultyFs {
  readonly fs: FileSystemApi;
  /** The calls made while armed, in order. */
  readonly calls: FsCall[] = [];
  /** Indices (into `calls`) of the calls that failed or were shortened. */
  readonly struck: number[] = [];
  private armed = false;
  private fault: Fault | undefined;
  private readonly fds = new Map<number, string>();
  /** Descriptors opened while armed and not closed yet. */
  private readonly openedArmed = new Set<number>();

  constructor(
    private readonly pluginId: string,
    private readonly baseDir: string,
  ) {
    const fs = { ...nodeFileSystem };
    for (const name of Object.keys(nodeFileSystem) as Array<keyof FileSystemApi>) {
      const real = nodeFileSystem[name] as (...args: unknown[]) => unknown;
      (fs as Record<string, unknown>)[name] = (...args: unknown[]) => this.call(name, real, args);
    }
    this.fs = fs;
  }

  arm(fault?: Fault): void {
    this.armed = true;
    this.fault = fault;
  }

  /** The faults stop: later calls go straight to node:fs. */
  disarm(): void {
    this.armed = false;
    this.fault = undefined;
  }

  /**
   * Descriptors the operation opened and never closed: closes them (the test process must not run
   * out) and returns what they were.
   */
  closeLeaked(): string[] {
    const leaked = [...this.openedArmed].map((fd) => this.fds.get(fd) ?? `fd ${fd}`);
    for (const fd of this.openedArmed) {
      try {
        nodeFileSystem.closeSync(fd);
      } catch {
        // already closed behind our back
      }
      this.fds.delete(fd);
    }
    this.openedArmed.clear();
    return leaked;
  }

  private name(path: unknown): string {
    const text = String(path);
    if (text === this.baseDir) return '<folder>';
    return basename(text)
      .replaceAll(this.pluginId, '<id>')
      .replace(/\.tmp-[0-9]+-[0-9]+-[0-9a-f]+$/, '.tmp-*')
      .replace(/^\.owner-.*$/, '.owner-*');
  }

  private call(name: keyof FileSystemApi, real: (...args: unknown[]) => unknown, args: unknown[]): unknown {
    const onFd = name === 'closeSync' || name === 'writeSync' || name === 'readSync' || name === 'fstatSync';
    const target =
      onFd || name === 'fsyncSync'
        ? (this.fds.get(args[0] as number) ?? '?')
        : name === 'renameSync' || name === 'linkSync'
          ? `${this.name(args[0])} -> ${this.name(args[1])}`
          : this.name(args[0]);
    if (!this.armed) return this.perform(name, real, args);
    const index = this.calls.push({ name, target }) - 1;
    const fault = this.fault;
    if (fault?.kind === 'errno' && (index === fault.at || (fault.persistent && index > fault.at))) {
      this.struck.push(index);
      if (name === 'existsSync') return false; // node's existsSync turns every error into "absent"
      if (name === 'closeSync') this.perform(name, real, args); // close frees the fd even on EIO
      throw systemError(fault.code, SYSCALLS[name] ?? name, onFd ? undefined : String(args[0]));
    }
    if (
      fault?.kind === 'short' &&
      name === 'writeSync' &&
      (index === fault.at || (fault.repeated && index > fault.at))
    ) {
      const length = args[3] as number;
      if (length > 1) {
        this.struck.push(index);
        return real(args[0], args[1], args[2], Math.max(1, Math.floor(length / 2)), args[4]);
      }
    }
    return this.perform(name, real, args);
  }

  private perform(
    name: keyof FileSystemApi,
    real: (...args: unknown[]) => unknown,
    args: unknown[],
  ): unknown {
    const result = real(...args);
    if (name === 'openSync') {
      this.fds.set(result as number, this.name(args[0]));
      if (this.armed) this.openedArmed.add(result as number);
    } else if (name === 'closeSync') {
      this.fds.delete(args[0] as number);
      this.openedArmed.delete(args[0] as number);
    }
    return result;
  }
}

/** One line per call: `12 renameSync <id>.json.tmp-*`. */
export function describeCalls(calls: readonly FsCall[]): string {
  return calls.map((call, i) => `${String(i).padStart(3)} ${call.name} ${call.target}`).join('\n');
}
