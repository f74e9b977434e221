import { ValidationError } from '../../core/errors.js';
import { isPluginId } from '../../core/ids.js';
import type { PluginStateStorage } from '../../core/storage.js';
import type {
  PluginId,
  PluginState,
  ReportHook,
  RevisionInfo,
  SaveOptions,
  StateReport,
} from '../../core/types.js';
import { type SecretFinding, scanForSecrets } from './scan-for-secrets.js';

/**
 * What a save does with data that looks like it holds secrets: `'off'` does not scan, `'warn'`
 * (the default) saves and reports, `'refuse'` stores nothing and rejects with a `ValidationError`.
 */
export type SecretScanPolicy = 'off' | 'warn' | 'refuse';

/** Options of {@link scanned}. */
export interface SecretScanOptions {
  /** Default `'warn'`. */
  policy?: SecretScanPolicy;
  /**
   * Hears of every save in which secrets were found, under both `'warn'` and `'refuse'`:
   * operation `'scan'`, code `'SECRET'`, the plugin id, a message with the paths and kinds, and as
   * `error` a `ValidationError` whose `issues` list them. Never the secret itself.
   */
  onReport?: ReportHook;
  /**
   * Lets a known false positive through (return true), e.g. a plugin whose job is to keep test card
   * numbers. Called for each finding of each save.
   */
  allow?: (finding: SecretFinding, pluginId: PluginId) => boolean;
}

const POLICIES: readonly SecretScanPolicy[] = ['off', 'warn', 'refuse'];
/** At most this many findings are written into one message; `issues` holds all of them. */
const LISTED = 10;

/**
 * Wraps a storage so that every `saveState` is scanned for secrets a plugin should not keep in
 * plain state ({@link scanForSecrets}: private keys, cloud keys, JWTs, API tokens, card numbers).
 * With `'warn'` (the default) the state is saved and a report names each JSON path and kind; with
 * `'refuse'` nothing is stored and the save rejects with a `ValidationError` listing them as
 * `issues`. Neither the report nor the error ever contains the secret. Loading, listing, deleting,
 * opening and closing go straight to the wrapped storage, and so does history (`listRevisions`,
 * `loadRevision`, `restoreRevision`, `purgeState`, present when the wrapped storage has them): a
 * restore is not scanned, since it puts back data that is already stored.
 *
 * Scan before encrypting (`scanned(encrypted(storage, …))`): encryption protects data at rest, but
 * a secret in a plugin's state still reaches everything that can read that state.
 *
 * @example
 * const storage = scanned(new FileSystemStateStorage('./states'), {
 *   policy: 'refuse',
 *   onReport: (report) => console.warn(report.message),
 * });
 * await storage.saveState({ pluginId, data: { token: process.env.GITHUB_TOKEN }, lastModified: new Date() });
 * // → ValidationError: "saveState of plugin …: refused, the data holds what looks like secrets that a
 * //   plugin should not keep in plain state: data.token (github-token). Nothing was stored. …"
 * //   with error.issues = [{ path: 'data.token', message: 'github-token' }]
 */
export function scanned(storage: PluginStateStorage, options: SecretScanOptions = {}): PluginStateStorage {
  const policy = options.policy ?? 'warn';
  if (!POLICIES.includes(policy)) {
    throw new ValidationError(
      `scanned: policy must be one of ${POLICIES.map((p) => `'${p}'`).join(', ')}, got ${JSON.stringify(policy)}.`,
      { operation: 'configure' },
    );
  }
  return new SecretScanningStorage(storage, policy, options.onReport, options.allow);
}

/** Its fields are truly private (#): nothing on the layer leads to the storage it wraps. */
class SecretScanningStorage implements PluginStateStorage {
  readonly #storage: PluginStateStorage;
  readonly #policy: SecretScanPolicy;
  readonly #onReport: ReportHook | undefined;
  readonly #allow: SecretScanOptions['allow'];

  // History, forwarded only when the wrapped storage keeps it (set in the constructor), so that the
  // layer declares exactly what the storage under it can do.
  declare listRevisions?: (pluginId: PluginId) => Promise<RevisionInfo[]>;
  declare loadRevision?: (pluginId: PluginId, revision: number) => Promise<PluginState | undefined>;
  declare restoreRevision?: (
    pluginId: PluginId,
    revision: number,
    options?: SaveOptions,
  ) => Promise<PluginState>;
  declare purgeState?: (pluginId: PluginId) => Promise<void>;

  constructor(
    storage: PluginStateStorage,
    policy: SecretScanPolicy,
    onReport: ReportHook | undefined,
    allow: SecretScanOptions['allow'],
  ) {
    this.#storage = storage;
    this.#policy = policy;
    this.#onReport = onReport;
    this.#allow = allow;
    // Closures over the storage, not references to it: nothing on the layer leads to the storage.
    if (typeof storage.listRevisions === 'function') {
      this.listRevisions = (pluginId) => storage.listRevisions!(pluginId);
    }
    if (typeof storage.loadRevision === 'function') {
      this.loadRevision = (pluginId, revision) => storage.loadRevision!(pluginId, revision);
    }
    if (typeof storage.restoreRevision === 'function') {
      // Not scanned: a restore saves again data that is already stored, as it was stored (it was
      // scanned when it was first saved through this layer, and scanning it now would not remove it
      // from history). A host that changed its policy since, or stored around the layer, has to
      // know that history keeps what was saved then; SECURITY.md says so.
      this.restoreRevision = (pluginId, revision, options) =>
        storage.restoreRevision!(pluginId, revision, options);
    }
    if (typeof storage.purgeState === 'function') {
      this.purgeState = (pluginId) => storage.purgeState!(pluginId);
    }
  }

  async saveState(state: PluginState, options?: SaveOptions): Promise<PluginState> {
    // A state that is not even shaped right is the wrapped storage's to refuse, with its own message.
    if (this.#policy !== 'off' && typeof state === 'object' && state !== null && isPluginId(state.pluginId)) {
      this.#check(state.pluginId.toLowerCase(), state.data);
    }
    return this.#storage.saveState(state, options);
  }

  loadState(pluginId: PluginId): Promise<PluginState | undefined> {
    return this.#storage.loadState(pluginId);
  }

  deleteState(pluginId: PluginId): Promise<void> {
    return this.#storage.deleteState(pluginId);
  }

  listStates(): Promise<PluginState[]> {
    return this.#storage.listStates();
  }

  async open(): Promise<void> {
    await this.#storage.open?.();
  }

  async close(): Promise<void> {
    await this.#storage.close?.();
  }

  /** Reports what was found, and throws under `'refuse'`. */
  #check(pluginId: PluginId, data: PluginState['data']): void {
    const allow = this.#allow;
    let findings = scanForSecrets(data);
    if (allow) findings = findings.filter((finding) => !allow(finding, pluginId));
    if (findings.length === 0) return;
    const refuse = this.#policy === 'refuse';
    const listed = findings
      .slice(0, LISTED)
      .map((finding) => `${finding.path}${finding.inKey ? ' (a key)' : ''} (${finding.kind})`)
      .join(', ');
    const more = findings.length > LISTED ? ` and ${findings.length - LISTED} more` : '';
    const outcome = refuse
      ? 'Nothing was stored.'
      : "It was saved anyway (secret scanning policy 'warn'; 'refuse' would have rejected it).";
    const error = new ValidationError(
      `saveState of plugin ${pluginId}: ${refuse ? 'refused, the' : 'the'} data holds what looks like secrets that a ` +
        `plugin should not keep in plain state: ${listed}${more}. ${outcome} Keep secrets in the OS keychain or a ` +
        'secret manager and store only a reference to them; a known false positive can be let through with the `allow` option.',
      {
        pluginId,
        operation: 'saveState',
        issues: findings.map((finding) => ({
          path: finding.path,
          message: finding.inKey ? `${finding.kind} (a key)` : finding.kind,
        })),
      },
    );
    this.#report({
      operation: 'scan',
      pluginId,
      code: 'SECRET',
      error,
      recovered: !refuse,
      message: error.message,
    });
    if (refuse) throw error;
  }

  #report(report: StateReport): void {
    if (!this.#onReport) return;
    try {
      this.#onReport(report);
    } catch {
      // A host's logging bug must not change the outcome of a save.
    }
  }
}
