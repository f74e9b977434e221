// `plugin-state/sqlite`: importing this module does not load better-sqlite3; opening a store does.
export type { SqliteDatabase, SqliteStatement } from './driver.js';
export type { SqliteStorageOptions } from './options.js';
export { SqliteStateStorage } from './sqlite.js';
