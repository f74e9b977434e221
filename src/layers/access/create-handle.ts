import { PermissionError, type PluginStateError, ValidationError } from '../../core/errors.js';
import { isPluginId, normalizePluginId } from '../../core/ids.js';
import type { Reporter } from '../../core/report.js';
import type { PluginStateStorage } from '../../core/storage.js';
import type { PluginId, PluginState, SaveOptions } from '../../core/types.js';
import { AccessAuditor, type AccessOperation } from './access-audit.js';
import { errorForPlugin } from './error-for-plugin.js';
import type { ForPluginOptions } from './for-plugin-options.js';
import type { PluginStateHandle, StateSnapshot, StateUpdate } from './plugin-state-handle.js';

/**
 * Builds the handle behind `forPlugin`. Everything it can reach lives in this function's closure;
 * the returned object holds nothing but three frozen arrow functions (no `this`, no prototype, not
 * constructible), so no property walk from it reaches `storage`. Options are checked and copied
 * here, synchronously, so a host's wiring mistake fails at `forPlugin` rather than in the plugin.
 */
export function createPluginStateHandle(
  storage: PluginStateStorage,
  reporter: Reporter,
  pluginId: PluginId,
  options: ForPluginOptions = {},
): PluginStateHandle {
  const self = normalizePluginId(pluginId, 'forPlugin');
  const { read, onAudit, signal } = checkOptions(options, self);
  const auditor = new AccessAuditor(reporter, onAudit, self);

  const refuse = (
    operation: AccessOperation,
    shown: string,
    reason: 'not-granted' | 'revoked' | 'invalid',
    error: PluginStateError,
  ): never => {
    auditor.denied(operation, shown, reason, error);
    throw error;
  };
  const checkRevoked = (operation: AccessOperation, shown: string): void => {
    if (!signal?.aborted) return;
    refuse(
      operation,
      shown,
      'revoked',
      permission(self, operation, `the handle of plugin ${self} was revoked by the host.`),
    );
  };

  /** Decides one request; audits it either way and returns the target id when allowed. */
  const decide = (operation: AccessOperation, requested: unknown): PluginId => {
    const target =
      requested === undefined ? self : isPluginId(requested) ? requested.toLowerCase() : undefined;
    const shown = target ?? quoted(requested);
    checkRevoked(operation, shown);
    if (target === undefined)
      return refuse(operation, shown, 'invalid', invalidId(self, operation, requested));
    if (target === self) {
      auditor.allowed(operation, self, 'own');
      return self;
    }
    if (operation === 'get' && read.has(target)) {
      auditor.allowed(operation, target, 'granted');
      return target;
    }
    const why =
      operation === 'get'
        ? `plugin ${self} may not read the state of plugin ${target}: it is not listed in the \`read\` option of forPlugin("${self}"). The host may grant it with forPlugin("${self}", { read: ["${target}"] }).`
        : `plugin ${self} may not ${operation === 'set' ? 'write' : 'delete'} the state of plugin ${target}: a plugin's handle writes and deletes only its own state.`;
    return refuse(operation, shown, 'not-granted', permission(self, operation, why));
  };

  /** Runs the storage call; a failure is reported with the original error, the plugin gets a copy. */
  const perform = async <T>(operation: AccessOperation, task: () => Promise<T>): Promise<T> => {
    try {
      return await task();
    } catch (error) {
      reporter.failure(`access.${operation}`, self, error);
      throw errorForPlugin(error, `access.${operation}`);
    }
  };

  const get = async (requested?: unknown): Promise<StateSnapshot | undefined> => {
    const target = decide('get', requested);
    const state = await perform('get', () => storage.loadState(target));
    return state && snapshot(target, state);
  };

  const set = async (update: unknown, saveOptions?: unknown): Promise<StateSnapshot> => {
    // Each field of the argument is read exactly once: a getter or a Proxy cannot show one id to the
    // check and another to the save, and the save is built from these values only.
    checkRevoked('set', self);
    const fields = readUpdate(self, update, saveOptions, (error) => refuse('set', self, 'invalid', error));
    decide('set', fields.pluginId);
    const state: PluginState = { pluginId: self, data: fields.data, lastModified: new Date() };
    if (fields.version !== undefined) state.version = fields.version;
    const saved = await perform('set', () =>
      storage.saveState(
        state,
        fields.expectedRevision === undefined ? undefined : { expectedRevision: fields.expectedRevision },
      ),
    );
    return snapshot(self, saved);
  };

  const remove = async (requested?: unknown): Promise<void> => {
    const target = decide('delete', requested);
    await perform('delete', () => storage.deleteState(target));
  };

  const methods = {
    get: (pluginId?: PluginId) => get(pluginId),
    set: (state: StateUpdate, options?: Pick<SaveOptions, 'expectedRevision'>) => set(state, options),
    delete: (pluginId?: PluginId) => remove(pluginId),
  };
  const handle = Object.create(null) as Record<string, unknown>;
  for (const [name, method] of Object.entries(methods)) {
    Object.defineProperty(handle, name, { value: Object.freeze(method), enumerable: true });
  }
  return Object.freeze(handle) as unknown as PluginStateHandle;
}

interface CheckedOptions {
  read: ReadonlySet<PluginId>;
  onAudit: ForPluginOptions['onAudit'];
  signal: AbortSignal | undefined;
}

function checkOptions(options: ForPluginOptions, self: PluginId): CheckedOptions {
  const fail = (message: string, path: string) =>
    new ValidationError(`forPlugin: ${message} (plugin ${self}).`, {
      pluginId: self,
      operation: 'forPlugin',
      issues: [{ path, message }],
    });
  if (options === null || typeof options !== 'object') throw fail('options must be an object', 'options');
  const { read = [], onAudit, signal } = options;
  if (!Array.isArray(read)) throw fail('`read` must be an array of plugin ids', 'options.read');
  if (onAudit !== undefined && typeof onAudit !== 'function') {
    throw fail('`onAudit` must be a function', 'options.onAudit');
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw fail('`signal` must be an AbortSignal', 'options.signal');
  }
  const ids = new Set(read.map((id) => normalizePluginId(id, 'forPlugin')));
  return { read: ids, onAudit, signal };
}

interface UpdateFields {
  data: StateUpdate['data'];
  version: number | undefined;
  pluginId: unknown;
  expectedRevision: number | undefined;
}

function readUpdate(
  self: PluginId,
  update: unknown,
  saveOptions: unknown,
  fail: (error: ValidationError) => never,
): UpdateFields {
  const invalid = (message: string, path: string) =>
    fail(
      new ValidationError(`access.set: plugin ${self}: ${message}`, {
        pluginId: self,
        operation: 'access.set',
        issues: [{ path, message }],
      }),
    );
  if (update === null || typeof update !== 'object') {
    return invalid(
      `expected a state object { data, version? }, got ${update === null ? 'null' : typeof update}.`,
      'state',
    );
  }
  const { data, version, pluginId } = update as Partial<StateUpdate>;
  if (data === undefined) {
    return invalid('the state has no `data`: call set({ data: yourData }), not set(yourData).', 'state.data');
  }
  let expectedRevision: unknown;
  if (saveOptions !== undefined && saveOptions !== null) {
    if (typeof saveOptions !== 'object')
      return invalid('options must be an object { expectedRevision? }.', 'options');
    expectedRevision = (saveOptions as SaveOptions).expectedRevision;
  }
  if (version !== undefined && typeof version !== 'number') {
    return invalid(`version must be a whole number >= 1, got ${typeof version}.`, 'state.version');
  }
  if (expectedRevision !== undefined && typeof expectedRevision !== 'number') {
    return invalid(
      `expectedRevision must be a whole number >= 0, got ${typeof expectedRevision}.`,
      'options.expectedRevision',
    );
  }
  return { data, version, pluginId, expectedRevision };
}

/** A fresh record for the plugin; `data` is the storage's own copy, made for this call. */
function snapshot(pluginId: PluginId, state: PluginState): StateSnapshot {
  return {
    pluginId,
    data: state.data,
    version: state.version ?? 1,
    revision: state.revision ?? 0,
    lastModified: new Date(state.lastModified.getTime()),
  };
}

function permission(self: PluginId, operation: AccessOperation, why: string): PermissionError {
  return new PermissionError(`access.${operation}: ${why}`, {
    pluginId: self,
    operation: `access.${operation}`,
  });
}

function invalidId(self: PluginId, operation: AccessOperation, value: unknown): ValidationError {
  const message = `plugin id ${quoted(value)} is not a UUID (expected the form 1b4e28ba-2fa1-41d2-883f-0016d3cca427)`;
  return new ValidationError(`access.${operation}: plugin ${self} passed ${message}.`, {
    pluginId: self,
    operation: `access.${operation}`,
    issues: [{ path: 'pluginId', message: 'not a UUID' }],
  });
}

/** A bounded, quoted excerpt of an untrusted value, safe for one log line. */
function quoted(value: unknown): string {
  return typeof value === 'string'
    ? JSON.stringify(value.slice(0, 80))
    : `(${value === null ? 'null' : typeof value})`;
}
