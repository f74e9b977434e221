import { StorageError } from './errors.js';
import type { Reporter } from './report.js';
import type { PluginId } from './types.js';

/** What `PluginManager.health()` tells about the storage behind it. */
export interface StorageHealth {
  /** `'degraded'` from a failure of the storage itself until an operation or probe succeeds again. */
  status: 'ok' | 'degraded';
  /** When the current degradation began. */
  since?: Date;
  /** The failure that made it degraded, or the latest one while degraded. */
  lastError?: unknown;
  /**
   * Plugins whose save failed during the outage (each failure was thrown to its caller). Their
   * current state is saved again as soon as the storage answers.
   */
  pendingSaves: PluginId[];
}

/**
 * Tracks whether the storage answers. A `StorageError` (the medium failed: unreachable, disk full,
 * I/O) makes it degraded; any later success, or a successful probe, makes it ok again, and then the
 * saves that failed meanwhile are made again. Other errors (validation, conflicts, permissions) say
 * nothing about the storage being reachable and change nothing here.
 */
export class StorageHealthMonitor {
  #status: 'ok' | 'degraded' = 'ok';
  #since: Date | undefined;
  #lastError: unknown;
  readonly #pending = new Set<PluginId>();
  #timer: NodeJS.Timeout | undefined;
  #probing = false;
  #stopped = false;

  constructor(
    private readonly reporter: Reporter,
    /** Checks that the storage answers; rejects when it does not. */
    private readonly probe: () => Promise<void>,
    /** Saves the given plugins' current state again; rejects with the failures. */
    private readonly replay: (pluginIds: PluginId[]) => Promise<void>,
    private readonly probeIntervalMs: number,
  ) {}

  snapshot(): StorageHealth {
    return {
      status: this.#status,
      ...(this.#since ? { since: new Date(this.#since.getTime()) } : {}),
      ...(this.#lastError === undefined ? {} : { lastError: this.#lastError }),
      pendingSaves: [...this.#pending],
    };
  }

  /** Records the outcome of one storage operation (of one plugin when `pluginId` is given). */
  observe(outcome: { error?: unknown; operation: string; pluginId?: PluginId; save?: boolean }): void {
    const { error, operation, pluginId, save } = outcome;
    if (error === undefined) {
      if (save && pluginId) this.#pending.delete(pluginId);
      if (this.#status === 'degraded') void this.#recovered(operation);
      return;
    }
    if (!(error instanceof StorageError) || this.#stopped) return;
    if (save && pluginId) this.#pending.add(pluginId);
    this.#lastError = error;
    if (this.#status === 'degraded') return;
    this.#status = 'degraded';
    this.#since = new Date();
    this.reporter.send({
      operation: 'degraded',
      ...(pluginId ? { pluginId } : {}),
      code: error.code,
      error,
      recovered: false,
      message:
        `the storage failed (${error.message}); the plugins keep running on their last known state, ` +
        `saves fail until it answers again, and it is probed every ${this.probeIntervalMs} ms.`,
    });
    this.#timer = setInterval(() => void this.check(), this.probeIntervalMs);
    this.#timer.unref(); // a degraded storage must not keep the host alive
  }

  /** Probes the storage now; once it answers, saves the pending plugins again. */
  async check(): Promise<StorageHealth> {
    if (this.#status === 'ok' || this.#probing || this.#stopped) return this.snapshot();
    this.#probing = true;
    try {
      await this.probe();
      await this.#recovered('probe');
    } catch (error) {
      this.#lastError = error;
    } finally {
      this.#probing = false;
    }
    return this.snapshot();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #recovered(operation: string): Promise<void> {
    if (this.#status === 'ok') return;
    this.#status = 'ok';
    const since = this.#since;
    this.#since = undefined;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    const pending = [...this.#pending];
    this.reporter.send({
      operation: 'recovered',
      recovered: true,
      message:
        `the storage answers again (${operation}) after ${since ? Date.now() - since.getTime() : 0} ms degraded` +
        (pending.length > 0 ? `; saving the ${pending.length} plugin(s) whose saves failed meanwhile.` : '.'),
    });
    if (pending.length > 0 && !this.#stopped) {
      // A failure here is observed (and reported) by the replay itself, and may degrade again.
      await this.replay(pending).catch(() => undefined);
    }
  }
}
