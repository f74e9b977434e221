// The list screen's data: one summary line per stored state, searched, sorted and cut into pages
// on the server, so the page only ever receives the rows it shows (10,000 states stay fast).
import type { PluginId, PluginState, PluginStateStorage } from '../index.js';

/** One row of the list. */
export interface StateSummary {
  pluginId: PluginId;
  /** The plugin's name, when the host told the server (`pluginNames`). */
  name: string | null;
  /** Bytes of the state's data serialized as JSON (UTF-8). */
  size: number;
  version: number;
  revision: number;
  lastModified: string;
}

export const SORT_KEYS = ['pluginId', 'name', 'size', 'version', 'revision', 'lastModified'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export interface ListQuery {
  /** Case-insensitive substring of the id or the plugin name. */
  q: string;
  sort: SortKey;
  order: 'asc' | 'desc';
  offset: number;
  limit: number;
}

export interface ListPage {
  total: number;
  offset: number;
  limit: number;
  items: StateSummary[];
}

interface Cached {
  revision: number;
  lastModified: number;
  version: number;
  summary: StateSummary;
}

/**
 * Lists through `storage.listStates()` on every request (so a change from another process shows at
 * once), sharing one call between requests that arrive together, and remembers each state's summary
 * by revision, so a list serializes only the states that changed since the last one.
 */
export class StateIndex {
  private readonly cache = new Map<PluginId, Cached>();
  private inFlight: Promise<StateSummary[]> | undefined;

  private readonly names: ReadonlyMap<string, string>;

  constructor(
    private readonly storage: PluginStateStorage,
    names: ReadonlyMap<string, string>,
  ) {
    // Ids are stored lower-case; a host may know them in any case.
    this.names = new Map([...names].map(([id, name]) => [id.toLowerCase(), name]));
  }

  nameOf(pluginId: PluginId): string | null {
    return this.names.get(pluginId) ?? null;
  }

  /** Every state's summary, read now (or by the list call already under way). */
  summaries(): Promise<StateSummary[]> {
    this.inFlight ??= this.read().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  async page(query: ListQuery): Promise<ListPage> {
    const all = await this.summaries();
    const needle = query.q.trim().toLowerCase();
    const found = needle
      ? all.filter((row) => row.pluginId.includes(needle) || row.name?.toLowerCase().includes(needle))
      : all.slice();
    found.sort(comparator(query.sort, query.order));
    return {
      total: found.length,
      offset: query.offset,
      limit: query.limit,
      items: found.slice(query.offset, query.offset + query.limit),
    };
  }

  /** The summary of one state the caller just read. */
  summarize(state: PluginState): StateSummary {
    const revision = state.revision ?? 0;
    const lastModified = state.lastModified.getTime();
    const version = state.version ?? 1;
    const cached = this.cache.get(state.pluginId);
    if (
      cached &&
      cached.revision === revision &&
      cached.lastModified === lastModified &&
      cached.version === version
    ) {
      return cached.summary;
    }
    const summary: StateSummary = {
      pluginId: state.pluginId,
      name: this.nameOf(state.pluginId),
      size: Buffer.byteLength(JSON.stringify(state.data)),
      version,
      revision,
      lastModified: state.lastModified.toISOString(),
    };
    this.cache.set(state.pluginId, { revision, lastModified, version, summary });
    return summary;
  }

  private async read(): Promise<StateSummary[]> {
    const states = await this.storage.listStates();
    const summaries = states.map((state) => this.summarize(state));
    if (this.cache.size > summaries.length) {
      const present = new Set(summaries.map((row) => row.pluginId));
      for (const id of this.cache.keys()) if (!present.has(id)) this.cache.delete(id);
    }
    return summaries;
  }
}

type Row = StateSummary;

function comparator(key: SortKey, order: 'asc' | 'desc'): (a: Row, b: Row) => number {
  const sign = order === 'asc' ? 1 : -1;
  const value = (row: Row): string | number => (key === 'name' ? (row.name ?? '\uffff') : row[key]);
  return (a, b) => {
    const x = value(a);
    const y = value(b);
    // Ties (and the secondary order) go by id, so a page boundary never moves between requests.
    if (x === y) return a.pluginId < b.pluginId ? -1 : a.pluginId > b.pluginId ? 1 : 0;
    return (x < y ? -1 : 1) * sign;
  };
}
