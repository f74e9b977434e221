/**
 * State contracts and migration, run with `npx tsx examples/migration.ts`: release 1 of a contacts
 * plugin saves its state; release 3 loads it, which migrates it from version 1 to 3 (a renamed
 * field and a split field) in one durable write, keeping the version 1 state in history.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PluginStateManager } from '../src/index.js';
import { ContactsV1, ContactsV3 } from './plugins/contacts.js';

const dir = mkdtempSync(join(tmpdir(), 'plugin-state-migration-'));
try {
  const release1 = PluginStateManager.withFileStorage(dir);
  const v1 = new ContactsV1();
  v1.contacts = [
    { name: 'Ada Lovelace', mail: 'ada@example.org' },
    { name: 'Charles Babbage', mail: 'charles@example.org' },
  ];
  await release1.saveState(v1);
  await release1.close();
  console.log('release 1 saved:', JSON.stringify(v1.getState()));

  const release3 = PluginStateManager.withFileStorage(dir, {
    onReport: (report) => console.log(`report: ${report.message}`),
  });
  const v3 = new ContactsV3();
  console.log('plan:', JSON.stringify(await release3.planMigration(v3)));
  await release3.loadState(v3); // migrates 1 → 2 → 3, validates, saves, then hands it over
  console.log('release 3 loaded:', JSON.stringify(v3.getState()));
  for (const revision of await release3.listRevisions(v3.id)) {
    const kept = await release3.loadRevision(v3.id, revision.revision);
    console.log(
      `revision ${revision.revision} (version ${revision.version}${revision.current ? ', current' : ''}):`,
      JSON.stringify(kept?.data),
    );
  }
  await release3.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
