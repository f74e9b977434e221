// The public surface of `plugin-state`. Only exports live here.

export {
  type BackupOptions,
  type BackupProgress,
  type BackupResult,
  backup,
  type RestoreOptions,
  type RestoreProgress,
  type RestoreResult,
  restore,
} from './backup/index.js';
export type {
  InvalidStatePolicy,
  ReferenceCheck,
} from './core/contract/contracted-states.js';
export type { JsonSchema } from './core/contract/json-schema.js';
export type {
  MigrateAllOptions,
  MigrationOutcome,
  MigrationPlan,
} from './core/contract/migration-report.js';
export type { StateSchema } from './core/contract/schema-check.js';
export type { StandardSchemaV1 } from './core/contract/standard-schema.js';
export {
  defineStateContract,
  type MigrationContext,
  type MigrationStep,
  type StateContract,
} from './core/contract/state-contract.js';
export {
  BatchError,
  type BatchFailure,
  ConflictError,
  type ErrorContext,
  IntegrityError,
  PermissionError,
  PluginStateError,
  type PluginStateErrorCode,
  SerializationError,
  StorageError,
  ValidationError,
  type ValidationIssue,
  type VersionContext,
  VersionIncompatibilityError,
} from './core/errors.js';
export {
  DEFAULT_HISTORY,
  GuardedStorage,
  MAX_HISTORY,
  type ValidRecord,
  type WriteConditions,
} from './core/guarded-storage.js';
export { isPluginId, PLUGIN_ID_NAMESPACE, pluginIdFromName } from './core/ids.js';
export { DEFAULT_LIMITS, type StateLimits } from './core/limits.js';
export type { ManagerOptions } from './core/manager-options.js';
export type { Plugin } from './core/plugin.js';
export { PluginManager } from './core/plugin-manager.js';
export { type AnyPlugin, PluginStateManager } from './core/state-manager.js';
export type { PluginStateStorage, StorageOptions } from './core/storage.js';
export type { StorageHealth } from './core/storage-health.js';
export type {
  JsonValue,
  PluginId,
  PluginState,
  ReportHook,
  RevisionInfo,
  SaveOptions,
  StateReport,
} from './core/types.js';
export type {
  AccessAuditEvent,
  AccessAuditHook,
  AccessOperation,
  AccessReason,
  ForPluginOptions,
  PluginStateHandle,
  StateSnapshot,
  StateUpdate,
} from './layers/access/index.js';
export {
  DEFAULT_MAX_ENCRYPTIONS_PER_KEY,
  ENCRYPTION_METADATA_ID,
  ENVELOPE_FORMAT,
  ENVELOPE_MARKER,
  type EncryptedEnvelope,
  EncryptedStateStorage,
  type EncryptionKey,
  type EncryptionOptions,
  encrypted,
  envelopeLimits,
  type KeyInput,
  type KeyOptions,
  type KeyProvider,
  type KeySourceOptions,
  keyFromEnv,
  keyFromFile,
  MAX_ENCRYPTIONS_PER_KEY,
  PassphraseKey,
  passphraseKey,
  type RotationOptions,
  type RotationOutcome,
  type RotationProgress,
  type RotationResult,
  rotateKeys,
  SCRYPT_PARAMETERS,
} from './layers/encryption/index.js';
export { isTransientError, type RetryPolicy, retrying } from './layers/retry/index.js';
export {
  type ScanOptions,
  type SecretFinding,
  type SecretKind,
  type SecretScanOptions,
  type SecretScanPolicy,
  scanForSecrets,
  scanned,
} from './layers/scan/index.js';
export {
  type FileSystemApi,
  FileSystemStateStorage,
  type FileSystemStorageOptions,
  nodeFileSystem,
  type UnsafeFolderPolicy,
} from './storage/file-system/index.js';
export { MemoryStateStorage } from './storage/memory.js';
export { openStorage } from './storage/open.js';
