// A side experiment, not part of `npm run bench`: what the file storage's per-save lock costs at
// 1 KB. The raw recipe's save, bare and wrapped in two kinds of lock, and the library's save,
// interleaved round by round in one process. A symlink lock (what the library takes) makes a new
// inode per save; a hard link to a per-process owner file makes only a directory entry.
//   npx tsx bench/lock-cost.ts [rounds]
import { randomUUID } from 'node:crypto';
import { linkSync, mkdirSync, readlinkSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { FileSystemStateStorage } from '../src/index.js';
import { makeStateData, variant } from './data.js';
import { fsyncProbe } from './fsync-probe.js';
import { RawRecipe } from './raw-recipe.js';
import { formatMs, summarize } from './stats.js';

const rounds = Number(process.argv[2] ?? 1000);
const warmup = 100;
const root = join(resolve(dirname(fileURLToPath(import.meta.url)), '.data'), `lock-cost-${process.pid}`);
mkdirSync(root, { recursive: true, mode: 0o700 });

const dirs = { raw: join(root, 'raw'), symlink: join(root, 'symlink'), hardlink: join(root, 'hardlink') };
const raw = new RawRecipe(dirs.raw);
const withSymlink = new RawRecipe(dirs.symlink);
const withHardLink = new RawRecipe(dirs.hardlink);
const ownerFile = join(dirs.hardlink, `owner-${process.pid}`);
writeFileSync(ownerFile, `host:${process.pid}`, { mode: 0o600 });
const storage = new FileSystemStateStorage(join(root, 'file'));
await storage.open();

const subjects: Record<string, (id: string, data: ReturnType<typeof variant>) => unknown> = {
  'raw recipe': (id, data) => raw.save(id, data),
  'raw + symlink lock (new inode per save)': (id, data) => {
    const lock = join(dirs.symlink, `${id}.json.lock`);
    symlinkSync(`owner:${process.pid}`, lock);
    withSymlink.save(id, data);
    if (readlinkSync(lock) === `owner:${process.pid}`) unlinkSync(lock);
  },
  'raw + hard-link lock (directory entry only)': (id, data) => {
    const lock = join(dirs.hardlink, `${id}.json.lock`);
    linkSync(ownerFile, lock);
    withHardLink.save(id, data);
    unlinkSync(lock);
  },
  'FileSystemStateStorage.saveState': (pluginId, data) =>
    storage.saveState({ pluginId, data, lastModified: new Date() }),
};
const names = Object.keys(subjects);
const samples = new Map(names.map((name) => [name, [] as number[]]));
const base = makeStateData(1024);
const probe = fsyncProbe(root);
try {
  for (let round = 0; round < warmup + rounds; round++) {
    const data = variant(base, round);
    for (let k = 0; k < names.length; k++) {
      const name = names[(round + k) % names.length]!;
      const start = process.hrtime.bigint();
      await subjects[name]!(randomUUID(), data);
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (round >= warmup) samples.get(name)!.push(ms);
    }
    await nextTurn();
  }
} finally {
  await storage.close();
  for (const recipe of [raw, withSymlink, withHardLink]) recipe.close();
  rmSync(root, { recursive: true, force: true });
}
console.log(
  `1 KB saves of new ids, ${rounds} rounds interleaved; disk fsync probe p50 / p99 ${formatMs(probe.p50)} / ${formatMs(probe.p99)} ms\n`,
);
console.log('| save | n | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|');
for (const [name, values] of samples) {
  const s = summarize(values);
  console.log(`| ${name} | ${s.n} | ${formatMs(s.p50)} | ${formatMs(s.p99)} | ${formatMs(s.max)} |`);
}
