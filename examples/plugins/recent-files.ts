import { type JsonValue, type Plugin, pluginIdFromName } from '../../src/index.js';

interface RecentFile {
  path: string;
  openedAt: string;
}

/** Keeps the five most recently opened files: a list that grows across runs. */
export class RecentFilesPlugin implements Plugin {
  readonly id = pluginIdFromName('com.example.recent-files');
  readonly name = 'recent-files';
  private files: RecentFile[] = [];

  getState(): JsonValue {
    return { files: this.files.map((file) => ({ ...file })) };
  }

  setState(data: JsonValue): void {
    const files = (data as { files?: unknown }).files;
    this.files = Array.isArray(files) ? (files as unknown as RecentFile[]) : [];
  }

  use(): void {
    const path = `notes/day-${this.files.length + 1}.md`;
    this.files = [{ path, openedAt: new Date().toISOString() }, ...this.files].slice(0, 5);
  }

  describe(): string {
    return this.files.length === 0
      ? 'no recent files'
      : `${this.files.length} recent, newest ${this.files[0]!.path}`;
  }
}
