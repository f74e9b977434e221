// The operations of the fault loop and the folders they start from: each scenario builds a
// template folder once (a known previous state), and every case runs on a copy of it.
import { randomUUID } from 'node:crypto';
import { chmodSync, copyFileSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileSystemStateStorage, type JsonValue, type PluginState } from '../../src/index.js';

export type Operation = 'first save' | 'update' | 'update+prune' | 'delete' | 'save after delete';
export const OPERATIONS: readonly Operation[] = [
  'first save',
  'update',
  'update+prune',
  'delete',
  'save after delete',
];

export interface Scenario {
  operation: Operation;
  /** The store's `history` during the operation. */
  history: number;
  /** About how many bytes the state's data takes. */
  size: number;
  /** The faulted store has already written another state (its lock owner and journal are set up). */
  warm: boolean;
}

export function scenarioLabel({ operation, history, size, warm }: Scenario): string {
  return `${operation} (${formatSize(size)}, history ${history}${warm ? ', warm store' : ''})`;
}

export function formatSize(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

/** Data of about `size` bytes, different for every tag. */
export function dataOf(size: number, tag: string): JsonValue {
  return { tag, pad: 'x'.repeat(Math.max(0, size - 30 - tag.length)) };
}

const at = (second: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, second));

export function stateOf(pluginId: string, size: number, tag: string, second: number): PluginState {
  return { pluginId, data: dataOf(size, tag), lastModified: at(second), version: 1 };
}

/** A template folder holding the state the operation starts from, beside another plugin's state. */
export interface Template {
  dir: string;
  id: string;
  other: string;
}

/**
 * Builds the previous state: `update` starts from revision 3, `update+prune` from a full history
 * window (history + 2 saves; with history 0, from 4 saves kept with history 2, all of which the
 * update drops), `delete` from revision 3, `save after delete` from revision 3 deleted; states
 * over 64 KiB from revision 1 instead of 3.
 */
export async function buildTemplate(scenario: Scenario, dir: string): Promise<Template> {
  const { operation, history, size } = scenario;
  const id = randomUUID();
  const other = randomUUID();
  mkdirSync(dir, { mode: 0o700 });
  const pruneFromHistory = history === 0 ? 2 : history;
  const store = new FileSystemStateStorage(dir, {
    history: operation === 'update+prune' ? pruneFromHistory : history,
  });
  await store.saveState(stateOf(other, 200, 'other', 1));
  // Large states start from one revision (so from less history to read back in every check).
  const saves =
    operation === 'first save'
      ? 0
      : operation === 'update+prune'
        ? pruneFromHistory + 2
        : size > 64 * 1024
          ? 1
          : 3;
  for (let revision = 1; revision <= saves; revision++) {
    await store.saveState(stateOf(id, size, `previous ${revision}`, 10 + revision));
  }
  if (operation === 'save after delete') await store.deleteState(id);
  await store.close();
  return { dir, id, other };
}

/** Runs the scenario's operation; a save resolves with the stored record. */
export function runOperation(
  store: FileSystemStateStorage,
  scenario: Scenario,
  id: string,
): Promise<PluginState | undefined> {
  if (scenario.operation === 'delete') return store.deleteState(id).then(() => undefined);
  return store.saveState(stateOf(id, scenario.size, 'new', 100));
}

/** The revision in a state file's header (read from its first line of it, not parsed whole). */
export function revisionOf(bytes: Buffer): number | undefined {
  const match = /\n {2}"revision": (\d+),\n/.exec(bytes.toString('latin1', 0, 400));
  return match ? Number(match[1]) : undefined;
}

/** The revision of every state file in a folder, id → revision, read from the headers. */
export function revisionsInFolder(dir: string): Map<string, number | undefined> {
  const found = new Map<string, number | undefined>();
  for (const name of readdirSync(dir)) {
    const match = /^([0-9a-f-]{36})\.json$/.exec(name);
    if (match) found.set(match[1]!, revisionOf(readFileSync(join(dir, name))));
  }
  return found;
}

/** Copies a folder, keeping hard links as links (history files share the inode of a state). */
export function copyFolder(from: string, to: string): void {
  mkdirSync(to, { mode: 0o700 });
  const copied = new Map<string, string>();
  for (const name of readdirSync(from)) {
    const source = join(from, name);
    const target = join(to, name);
    const stats = lstatSync(source);
    const inode = `${stats.dev}:${stats.ino}`;
    const first = copied.get(inode);
    if (first) {
      linkSync(first, target);
      continue;
    }
    copyFileSync(source, target);
    chmodSync(target, stats.mode & 0o777);
    copied.set(inode, target);
  }
}

/** What the store keeps beside the states: journal, lock machinery, temp files. */
export const MACHINERY = /^\.changes\.log|^\.owner-|\.tmp-|\.lock(\.break)?$/;

/** Every file that holds state (states, history, markers, files moved aside), name → bytes. */
export function snapshot(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const name of readdirSync(dir).sort()) {
    if (!MACHINERY.test(name)) files.set(name, readFileSync(join(dir, name)));
  }
  return files;
}

/** How two snapshots differ, for messages: `+added -removed ~changed`. */
export function snapshotDiff(before: Map<string, Buffer>, after: Map<string, Buffer>, id: string): string {
  const parts: string[] = [];
  const short = (name: string) => name.replace(id, '<id>');
  for (const [name, bytes] of after) {
    const old = before.get(name);
    if (!old) parts.push(`+${short(name)}`);
    else if (!old.equals(bytes)) parts.push(`~${short(name)}`);
  }
  for (const name of before.keys()) if (!after.has(name)) parts.push(`-${short(name)}`);
  return parts.join(' ') || 'identical';
}
