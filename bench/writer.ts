// One of the concurrent writers of the throughput measurement (see throughput.ts), a process of
// its own as a host would be: `node --import tsx bench/writer.ts`. It takes commands on stdin, one
// per line, so that the same processes serve every backend (starting 8 processes through tsx costs
// seconds on this machine):
//   {"url": …, "pluginId": …, "saves": n, "warmup": w}  opens the storage, saves the id w times
//                                                      (untimed), prints "ready"
//   go   saves the id n times (a 1 KB state), each timed with process.hrtime.bigint(), closes the
//        storage and prints one JSON line: the samples in ms, and the start and end of the timed
//        part in ns of the system-wide monotonic clock (CLOCK_MONOTONIC on Linux, comparable across
//        processes), so that the parent can take the span over all writers
// It prints "up" once loaded, and exits when stdin ends.
import { writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { openStorage, type PluginStateStorage } from '../src/index.js';
import { makeStateData, variant } from './data.js';

export interface WriterJob {
  url: string;
  pluginId: string;
  saves: number;
  warmup: number;
}

export interface WriterResult {
  samples: number[];
  startNs: string;
  endNs: string;
}

const base = makeStateData(1024);
const print = (line: string) => writeSync(1, `${line}\n`);

async function main(): Promise<void> {
  let job: WriterJob | undefined;
  let storage: PluginStateStorage | undefined;
  const save = (seq: number) =>
    storage!.saveState({ pluginId: job!.pluginId, data: variant(base, seq), lastModified: new Date() });
  print('up');
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.startsWith('{')) {
      job = JSON.parse(line) as WriterJob;
      storage = await openStorage(job.url);
      for (let i = 0; i < job.warmup; i++) await save(i);
      print('ready');
    } else if (line === 'go' && job && storage) {
      const samples: number[] = [];
      const start = process.hrtime.bigint();
      for (let i = 0; i < job.saves; i++) {
        const before = process.hrtime.bigint();
        await save(job.warmup + i);
        samples.push(Number(process.hrtime.bigint() - before) / 1e6);
      }
      const end = process.hrtime.bigint();
      await storage.close?.();
      storage = undefined;
      const result: WriterResult = { samples, startNs: String(start), endNs: String(end) };
      print(JSON.stringify(result));
    } else {
      throw new Error(`writer: unexpected command ${JSON.stringify(line)}`);
    }
  }
}

await main();
