export type {
  AccessAuditEvent,
  AccessAuditHook,
  AccessOperation,
  AccessReason,
} from './access-audit.js';
export type { ForPluginOptions } from './for-plugin-options.js';
export type { PluginStateHandle, StateSnapshot, StateUpdate } from './plugin-state-handle.js';
