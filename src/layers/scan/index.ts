export type { SecretKind } from './detectors.js';
export { type ScanOptions, type SecretFinding, scanForSecrets } from './scan-for-secrets.js';
export { type SecretScanOptions, type SecretScanPolicy, scanned } from './scanned.js';
