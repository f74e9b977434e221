// One of many processes racing to increment one counter through compare-and-set.
// Run as: node --import tsx test/helpers/contention-worker.ts <storage-url> <plugin-id> <increments>
// Prints "ready", waits for "go" on stdin (so every process starts at once), then prints
// {"acked": n, "conflicts": n} once it has made <increments> acknowledged increments.
import { writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { ConflictError } from '../../src/index.js';
import { openStorage } from '../../src/storage/open.js';

const [url, pluginId, increments] = process.argv.slice(2);
if (!url || !pluginId || !increments) throw new Error('usage: contention-worker.ts <url> <id> <increments>');

const storage = await openStorage(url);
writeSync(1, 'ready\n');
const input = createInterface({ input: process.stdin });
for await (const line of input) if (line === 'go') break;

let acked = 0;
let conflicts = 0;
while (acked < Number(increments)) {
  const current = await storage.loadState(pluginId);
  const count = (current?.data as { count?: number } | undefined)?.count ?? 0;
  try {
    await storage.saveState(
      { pluginId, data: { count: count + 1 }, lastModified: new Date() },
      { expectedRevision: current?.revision ?? 0 },
    );
    acked += 1;
  } catch (error) {
    // Any other error fails the process, and with it the test: only conflicts may be lost races.
    if (!(error instanceof ConflictError)) throw error;
    conflicts += 1;
  }
}
await storage.close?.();
writeSync(1, `${JSON.stringify({ acked, conflicts })}\n`);
input.close();
