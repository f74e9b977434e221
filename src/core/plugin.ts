import type { StateContract } from './contract/state-contract.js';
import { ValidationError } from './errors.js';
import { isPluginId, normalizePluginId } from './ids.js';
import type { JsonValue, PluginId } from './types.js';

/**
 * What a host's plugin offers the managers: an id and a way to read and restore its state.
 *
 * @example
 * const counter: Plugin<{ count: number }> & { count: number } = {
 *   id: pluginIdFromName('com.acme.counter'),
 *   name: 'counter',
 *   count: 0,
 *   getState() { return { count: this.count }; },
 *   setState(data) { this.count = data.count; },
 * };
 */
export interface Plugin<T = JsonValue> {
  /** A UUID, any case; the managers use its lower-case form. */
  readonly id: PluginId;
  /** A human-readable name, for the host's own listings. */
  readonly name?: string;
  /** Returns the state to persist; it must be plain JSON. */
  getState(): T | Promise<T>;
  /** Restores a state that was saved before (migrated and checked against the contract, if any). */
  setState(data: T): void | Promise<void>;
  /**
   * The version, schema, migrations, default and references of this plugin's state. Without one,
   * the plugin writes and reads version 1 and any JSON.
   */
  readonly stateContract?: StateContract<T>;
}

/**
 * Checks that `value` can be used as a plugin and returns its canonical id. Done before any plugin
 * code runs or any I/O happens, so a host's wiring mistake fails with a message instead of a
 * `TypeError` deep inside a save.
 */
export function checkPlugin(value: unknown, operation: string): PluginId {
  if (value === null || typeof value !== 'object') {
    throw new ValidationError(
      `${operation}: expected a plugin object { id, getState(), setState(data) }, got ${value === null ? 'null' : typeof value}.`,
      { operation, issues: [{ path: 'plugin', message: 'not an object' }] },
    );
  }
  const plugin = value as Partial<Plugin>;
  const pluginId = normalizePluginId(plugin.id, operation);
  for (const method of ['getState', 'setState'] as const) {
    if (typeof plugin[method] !== 'function') {
      throw new ValidationError(
        `${operation}: plugin ${pluginId} has no ${method} function. Give the plugin both getState() and setState(data).`,
        { pluginId, operation, issues: [{ path: `plugin.${method}`, message: 'not a function' }] },
      );
    }
  }
  return pluginId;
}

/**
 * The id to show for a plugin or state in messages and batch failures: the canonical form when it
 * is valid, otherwise whatever was given, so the host can still find the culprit.
 */
export function shownPluginId(value: unknown): string {
  const id = value !== null && typeof value === 'object' ? (value as { id?: unknown }).id : value;
  return isPluginId(id) ? id.toLowerCase() : String(id);
}
