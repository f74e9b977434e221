// A child process in which the `pg` package cannot be found, as for a host that never installed it.
// It imports the package root and the Postgres entry (neither may need pg), then opens a storage
// and prints what happened as one JSON line.
import { register } from 'node:module';

const hide = `
export async function resolve(specifier, context, next) {
  if (specifier === 'pg' || specifier.startsWith('pg/')) {
    const error = new Error("Cannot find package 'pg' imported from " + context.parentURL);
    error.code = 'ERR_MODULE_NOT_FOUND';
    throw error;
  }
  return next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hide)}`);

const root = await import('../../src/index.js');
const { PostgresStateStorage } = await import('../../src/storage/postgres/index.js');
const storage = new PostgresStateStorage('postgres://postgres@127.0.0.1:1/none');
let outcome: Record<string, unknown>;
try {
  await storage.saveState({ pluginId: root.pluginIdFromName('x'), data: 1, lastModified: new Date() });
  outcome = { saved: true };
} catch (error) {
  const typed = error as InstanceType<typeof root.PluginStateError>;
  outcome = {
    storageError: error instanceof root.StorageError,
    code: typed.code,
    message: typed.message,
  };
}
await storage.close();
let pgHidden = false;
try {
  await import('pg');
} catch {
  pgHidden = true;
}
console.log(
  JSON.stringify({ rootLoaded: typeof root.MemoryStateStorage === 'function', pgHidden, ...outcome }),
);
