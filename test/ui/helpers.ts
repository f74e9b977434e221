// Starts a UI server for a test and talks to it with node:http, which (unlike fetch) may send any
// Host, Origin and Cookie header: what a hostile page or a rebinding DNS name would send.
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { TestContext } from 'node:test';
import { MemoryStateStorage, type PluginStateStorage } from '../../src/index.js';
import { startUiServer, type UiServer, type UiServerOptions } from '../../src/ui/index.js';

export const TOKEN_HEADER = 'X-Plugin-State-Token';

export interface Started {
  ui: UiServer;
  storage: PluginStateStorage;
  /** `http://127.0.0.1:<port>` */
  base: string;
  logs: string[];
}

/** A UI server on a memory storage (unless given one), closed after the test. */
export async function startUi(t: TestContext, options: Partial<UiServerOptions> = {}): Promise<Started> {
  const storage = options.storage ?? new MemoryStateStorage();
  const logs: string[] = [];
  const ui = await startUiServer({ log: (line) => logs.push(line), ...options, storage });
  t.after(() => ui.close());
  return { ui, storage, base: `http://127.0.0.1:${ui.port}`, logs };
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: the tests read replies loosely and assert on them
  json(): any;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: unknown;
}

/** One request to 127.0.0.1:<port>; `body` is sent as JSON unless it is a string. */
export function request(port: number, path: string, options: RequestOptions = {}): Promise<Reply> {
  const body =
    options.body === undefined
      ? undefined
      : typeof options.body === 'string'
        ? options.body
        : JSON.stringify(options.body);
  const headers: Record<string, string> = { Host: `127.0.0.1:${port}`, ...options.headers };
  if (body !== undefined && !Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) {
    headers['Content-Type'] = 'application/json';
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A request carrying the token in its header, as the page sends it. */
export function api(started: Started, path: string, options: RequestOptions = {}): Promise<Reply> {
  return request(started.ui.port, path, {
    ...options,
    headers: { [TOKEN_HEADER]: started.ui.token, ...options.headers },
  });
}

/** A plugin id made from a number, so tests can predict the sort order of ids. */
export function idOf(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}
