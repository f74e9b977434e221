export { FileSystemStateStorage, type FileSystemStorageOptions } from './file-system.js';
export { type FileSystemApi, nodeFileSystem } from './fs-api.js';
export type { UnsafeFolderPolicy } from './hygiene.js';
