import { v5 as uuidV5 } from 'uuid';
import { ValidationError } from './errors.js';
import type { PluginId } from './types.js';

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The namespace under which `pluginIdFromName` derives ids. Fixed forever: changing it would move
 * every name-derived plugin to a new, empty state.
 */
export const PLUGIN_ID_NAMESPACE = '6f1d3c2e-8b7a-5e4d-9c3b-2a1f0e9d8c7b';

/** True when `value` is a UUID in the 8-4-4-4-12 form, any case. */
export function isPluginId(value: unknown): value is PluginId {
  return typeof value === 'string' && value.length === 36 && UUID_PATTERN.test(value);
}

/**
 * Checks an id and returns its canonical lower-case form; anything else is a `ValidationError`
 * thrown before any I/O happens.
 */
export function normalizePluginId(value: unknown, operation: string): PluginId {
  if (isPluginId(value)) return value.toLowerCase();
  const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 80)) : typeof value;
  throw new ValidationError(
    `${operation}: plugin id ${shown} is not a UUID (expected the form 1b4e28ba-2fa1-41d2-883f-0016d3cca427). ` +
      'Use a UUID, or pluginIdFromName("your.plugin.name") to derive one from a name.',
    { operation, issues: [{ path: 'pluginId', message: 'not a UUID' }] },
  );
}

/**
 * A stable id for a plugin known by name: the name-based UUID (version 5) of `name` under
 * {@link PLUGIN_ID_NAMESPACE}. The same name always gives the same id, on every machine.
 *
 * @example
 * const id = pluginIdFromName('com.acme.git-helper'); // always the same UUID
 */
export function pluginIdFromName(name: string): PluginId {
  if (typeof name !== 'string' || name.trim() === '') {
    throw new ValidationError('pluginIdFromName: the plugin name must be a non-empty string.', {
      operation: 'pluginIdFromName',
    });
  }
  return uuidV5(name, PLUGIN_ID_NAMESPACE);
}
