// What the figures were measured on: printed in the header of every run.
import { readFileSync, realpathSync } from 'node:fs';
import { arch, cpus, loadavg, release, totalmem, type } from 'node:os';
import { basename } from 'node:path';

export interface MachineInfo {
  date: string;
  node: string;
  os: string;
  cpu: string;
  memory: string;
  /** The load average when the run started: other work on the machine skews every figure. */
  load: string;
  /** The mount holding the data folder, as /proc/mounts lists it. */
  filesystem: string;
  /** The block device's write cache mode, when the kernel says. */
  writeCache: string | undefined;
}

function unescapeMount(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

function mountOf(
  dir: string,
): { device: string; point: string; fsType: string; options: string } | undefined {
  let mounts: string;
  try {
    mounts = readFileSync('/proc/mounts', 'utf8');
  } catch {
    return undefined;
  }
  const path = realpathSync(dir);
  let best: { device: string; point: string; fsType: string; options: string } | undefined;
  for (const line of mounts.split('\n')) {
    const [device, rawPoint, fsType, options] = line.split(' ');
    if (!device || !rawPoint || !fsType || !options) continue;
    const point = unescapeMount(rawPoint);
    const inside = point === '/' || path === point || path.startsWith(`${point}/`);
    if (inside && (!best || point.length >= best.point.length)) best = { device, point, fsType, options };
  }
  return best;
}

function writeCacheOf(device: string): string | undefined {
  // /dev/vda1 → vda; /dev/nvme0n1p2 → nvme0n1: the whole disk's queue holds the setting.
  const name = basename(device);
  for (const candidate of [name, name.replace(/p?\d+$/, '')]) {
    try {
      return readFileSync(`/sys/block/${candidate}/queue/write_cache`, 'utf8').trim();
    } catch {
      // not a disk name; try the next
    }
  }
  return undefined;
}

export function machineInfo(dataDir: string): MachineInfo {
  const cores = cpus();
  const mount = mountOf(dataDir);
  return {
    date: new Date().toISOString(),
    node: process.version,
    os: `${type()} ${release()} ${arch()}`,
    cpu: `${cores[0]?.model.trim() ?? 'unknown'} × ${cores.length} cores`,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    load: loadavg()
      .map((n) => n.toFixed(2))
      .join(' / '),
    filesystem: mount
      ? `${mount.device} on ${mount.point} (${mount.fsType} ${mount.options})`
      : 'unknown (no /proc/mounts)',
    writeCache: mount ? writeCacheOf(mount.device) : undefined,
  };
}
