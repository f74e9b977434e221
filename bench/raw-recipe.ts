// The physical-limit line: the least a durable, atomic file-per-state store must do, written by hand
// with sync node:fs calls and no checks: temp file + write + fsync + rename + fsync of the folder.
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { JsonValue } from '../src/index.js';

export class RawRecipe {
  private readonly dirFd: number;
  private readonly revisions = new Map<string, number>();

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.dirFd = openSync(dir, 'r'); // kept open, as the library keeps its folder's fd
  }

  save(id: string, data: JsonValue): void {
    const path = join(this.dir, `${id}.json`);
    const temp = `${path}.tmp`;
    const revision = (this.revisions.get(id) ?? 0) + 1;
    const text = JSON.stringify({ pluginId: id, revision, lastModified: new Date().toISOString(), data });
    const bytes = Buffer.from(text, 'utf8');
    const fd = openSync(temp, 'wx', 0o600);
    try {
      for (let offset = 0; offset < bytes.length; ) {
        offset += writeSync(fd, bytes, offset, bytes.length - offset, offset);
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
    fsyncSync(this.dirFd);
    this.revisions.set(id, revision);
  }

  load(id: string): JsonValue | undefined {
    let text: string;
    try {
      text = readFileSync(join(this.dir, `${id}.json`), 'utf8');
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') return undefined;
      throw error;
    }
    return (JSON.parse(text) as { data: JsonValue }).data;
  }

  delete(id: string): void {
    try {
      unlinkSync(join(this.dir, `${id}.json`));
    } catch (error) {
      if ((error as { code?: string }).code !== 'ENOENT') throw error;
      return;
    }
    fsyncSync(this.dirFd);
    this.revisions.delete(id);
  }

  list(): JsonValue[] {
    return readdirSync(this.dir)
      .filter((name) => name.endsWith('.json'))
      .map((name) => (JSON.parse(readFileSync(join(this.dir, name), 'utf8')) as { data: JsonValue }).data);
  }

  close(): void {
    closeSync(this.dirFd);
  }
}
