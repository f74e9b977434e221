import { type JsonValue, type Plugin, pluginIdFromName } from '../../src/index.js';

type Theme = 'light' | 'dark';

/** Remembers the user's theme; each run toggles it, so a restart visibly keeps the last choice. */
export class ThemePlugin implements Plugin {
  readonly id = pluginIdFromName('com.example.theme');
  readonly name = 'theme';
  private theme: Theme = 'light';
  private fontSize = 14;

  getState(): JsonValue {
    return { theme: this.theme, fontSize: this.fontSize };
  }

  setState(data: JsonValue): void {
    const state = data as { theme?: unknown; fontSize?: unknown };
    this.theme = state.theme === 'dark' ? 'dark' : 'light';
    this.fontSize = typeof state.fontSize === 'number' ? state.fontSize : 14;
  }

  use(): void {
    this.theme = this.theme === 'light' ? 'dark' : 'light';
  }

  describe(): string {
    return `theme: ${this.theme}, font size ${this.fontSize}`;
  }
}
