import {
  checkStoredFile,
  dataByteLength,
  decodeHeader,
  EnvelopeError,
  type EnvelopeHeader,
  HEADER_READ_BYTES,
  measureStoredFile,
  TRAILER_BYTES,
} from './envelope.js';
import { errnoCode, type FileSystemApi } from './fs-api.js';

/** Files up to this size are fully decoded when inspected, so any corruption is noticed. */
const FULL_CHECK_BYTES = 16 * 1024;

/** What one stored file (a state or a kept revision) holds, learnt without parsing large data. */
export interface StoredFile {
  header: EnvelopeHeader;
  /** The file's inode: tells a history link of the current file from any other file. */
  ino: number;
  /** The file's mode bits (permissions). */
  mode: number;
  /** Bytes of the data JSON (UTF-8), as `listRevisions` reports them; 0 unless `measure` was asked. */
  dataBytes: number;
}

/**
 * Reads what a save must know of a stored file, or a history listing shows of it: its header, and
 * that it is intact. A file up to 16 KiB is checked completely (valid JSON, valid header); a larger
 * one by its header and its end when it has the library's own layout (a file cut short is noticed;
 * bad bytes inside its data are found when it is loaded), and completely otherwise (edited by hand,
 * or corrupt), so that what `loadState` reads is never taken for corrupt here. Undefined when the
 * file does not exist; `EnvelopeError` when it is corrupt.
 */
export function inspectStoredFile(
  fs: FileSystemApi,
  path: string,
  pluginId: string,
  measure = false,
): StoredFile | undefined {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const stats = fs.fstatSync(fd);
    const size = stats.size;
    if (size > FULL_CHECK_BYTES) {
      const head = Buffer.allocUnsafe(HEADER_READ_BYTES);
      const tail = Buffer.allocUnsafe(TRAILER_BYTES);
      readFully(fs, fd, head, 0);
      readFully(fs, fd, tail, size - TRAILER_BYTES);
      try {
        const header = decodeHeader(head, tail, pluginId);
        return {
          header,
          ino: stats.ino,
          mode: stats.mode,
          dataBytes: measure ? dataByteLength(head, size) : 0,
        };
      } catch (error) {
        if (!(error instanceof EnvelopeError)) throw error;
        // Not the library's own layout: read it all, as loadState would.
      }
    }
    const bytes = Buffer.allocUnsafe(size);
    readFully(fs, fd, bytes, 0);
    if (!measure)
      return { header: checkStoredFile(bytes, pluginId), ino: stats.ino, mode: stats.mode, dataBytes: 0 };
    const { header, dataBytes } = measureStoredFile(bytes, pluginId);
    return { header, ino: stats.ino, mode: stats.mode, dataBytes };
  } finally {
    fs.closeSync(fd);
  }
}

function readFully(fs: FileSystemApi, fd: number, buffer: Buffer, position: number): void {
  let offset = 0;
  while (offset < buffer.length) {
    const read = fs.readSync(fd, buffer, offset, buffer.length - offset, position + offset);
    if (read === 0) throw new EnvelopeError('the file is cut short (it ended while being read)');
    offset += read;
  }
}
