// Authenticated encryption at rest: the layer, its keys, and rotation. Only exports live here.

export { EncryptedStateStorage, type EncryptionOptions, encrypted } from './encrypted-storage.js';
export {
  DEFAULT_MAX_ENCRYPTIONS_PER_KEY,
  MAX_ENCRYPTIONS_PER_KEY,
} from './encryption-budget.js';
export { ENVELOPE_FORMAT, ENVELOPE_MARKER, type EncryptedEnvelope, envelopeLimits } from './envelope.js';
export type { KeyInput, KeyOptions } from './key-ring.js';
export { type KeySourceOptions, keyFromEnv, keyFromFile } from './key-sources.js';
export type { EncryptionKey, KeyProvider } from './keys.js';
export { ENCRYPTION_METADATA_ID } from './metadata.js';
export { PassphraseKey, passphraseKey, SCRYPT_PARAMETERS } from './passphrase.js';
export {
  type RotationOptions,
  type RotationOutcome,
  type RotationProgress,
  type RotationResult,
  rotateKeys,
} from './rotation.js';
