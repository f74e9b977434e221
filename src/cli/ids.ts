// A plugin is named on the command line by its UUID or by its name (com.acme.theme).
import { isPluginId, pluginIdFromName } from '../index.js';
import { UsageError } from './output/errors.js';

export interface ResolvedId {
  pluginId: string;
  /** The name it was derived from, when a name was given. */
  name?: string;
}

/** A UUID (any case) is used as it is; anything else is a plugin name, turned into its id. */
export function resolveId(input: string): ResolvedId {
  if (input.trim() === '') {
    throw new UsageError('the plugin id is empty; give a UUID or a plugin name such as com.acme.theme');
  }
  if (isPluginId(input)) return { pluginId: input.toLowerCase() };
  return { pluginId: pluginIdFromName(input), name: input };
}

/** `1b4e…` or `1b4e… (com.acme.theme)`. */
export function describeId(id: ResolvedId): string {
  return id.name === undefined ? id.pluginId : `${id.pluginId} (${id.name})`;
}
