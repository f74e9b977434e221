import { type JsonValue, type Plugin, pluginIdFromName } from '../../src/index.js';

/** Counts how often the host started: the simplest state that must survive a restart. */
export class LaunchCounterPlugin implements Plugin {
  readonly id = pluginIdFromName('com.example.launch-counter');
  readonly name = 'launch-counter';
  private launches = 0;

  getState(): JsonValue {
    return { launches: this.launches };
  }

  setState(data: JsonValue): void {
    const launches = (data as { launches?: unknown }).launches;
    this.launches = typeof launches === 'number' ? launches : 0;
  }

  use(): void {
    this.launches += 1;
  }

  describe(): string {
    return `launches: ${this.launches}`;
  }
}
