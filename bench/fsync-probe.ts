// The disk's bare fsync time, measured beside the disk-bound figures: a run's disk speed can change
// tenfold within an hour, so only figures measured next to it (and ratios within one run) mean much.
import { closeSync, fsyncSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { type Summary, summarize } from './stats.js';

const BLOCK = Buffer.alloc(4096, 0x61);

/** Writes 4 KB at offset 0 and fsyncs, `count` times (after a few untimed ones); ms per write+fsync. */
export function fsyncProbe(dir: string, count = 200, warmup = 5): Summary {
  const path = join(dir, `fsync-probe-${process.pid}.bin`);
  const fd = openSync(path, 'w', 0o600);
  const samples: number[] = [];
  try {
    for (let i = 0; i < warmup + count; i++) {
      const start = process.hrtime.bigint();
      writeSync(fd, BLOCK, 0, BLOCK.length, 0);
      fsyncSync(fd);
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (i >= warmup) samples.push(ms);
    }
  } finally {
    closeSync(fd);
    unlinkSync(path);
  }
  return summarize(samples);
}
