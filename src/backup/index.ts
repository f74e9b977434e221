// Whole-store backup and restore: one portable, checksummed NDJSON archive (see format.ts).
export { type BackupOptions, type BackupProgress, type BackupResult, backup } from './backup.js';
export { type RestoreOptions, type RestoreProgress, type RestoreResult, restore } from './restore.js';
