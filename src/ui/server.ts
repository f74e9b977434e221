import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PluginStateStorage } from '../index.js';
import { handleApi } from './api.js';
import { errorResponse, HttpError, sendJson, sendText } from './http.js';
import {
  allowedHosts,
  checkToken,
  cookieName,
  cookieValue,
  hostAllowed,
  hostWithPort,
  isLoopback,
  originAllowed,
  randomToken,
  setSecurityHeaders,
  TOKEN_HEADER,
  tokenCookie,
  tokenMatches,
} from './security.js';
import { StateIndex } from './state-index.js';
import { loadAssets, sendAsset, sendUnauthorized } from './static.js';

/** Options of {@link startUiServer}. */
export interface UiServerOptions {
  /** The storage to show and edit. The server never closes it: the caller does, after `close()`. */
  storage: PluginStateStorage;
  /**
   * The address to listen on (default `127.0.0.1`). Anything but a loopback address lets other
   * machines reach the UI (over plain HTTP): it must be asked for, and a warning is logged.
   */
  host?: string;
  /** The port (default 0: a free port chosen by the system). */
  port?: number;
  /** The access token (default: 32 random bytes, base64url); 16+ URL-safe characters. */
  token?: string;
  /** Plugin names by id, when the host knows them; shown beside the ids and searchable. */
  pluginNames?: ReadonlyMap<string, string>;
  /** Receives warnings and internal errors, one line each (default: standard error). */
  log?: (line: string) => void;
}

/** A running UI server. */
export interface UiServer {
  /** The URL to open, with `?token=…`. */
  url: string;
  port: number;
  token: string;
  /** Stops listening and ends open connections; idempotent. Does not close the storage. */
  close(): Promise<void>;
}

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'DELETE', 'PATCH']);
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE']);

/**
 * Serves the state management web UI (and its JSON API, see `api.ts`) for one storage.
 *
 * Security model: every request — page, assets and API — must carry the access token: in the
 * `X-Plugin-State-Token` header, as `?token=` (which the first page load trades for an HttpOnly,
 * SameSite=Strict cookie, then redirects to drop it from the address bar), or in that cookie. A
 * missing or wrong token is a 401 that says nothing about the server; tokens are compared in
 * constant time. A request that changes something (PUT, POST, DELETE) must carry the token in the
 * header — a cookie alone is refused, so another site cannot make the browser send a change — and
 * an `Origin`, when present, must be this server. Every request's `Host` must name this server, so
 * a DNS-rebinding page (another name pointing at 127.0.0.1) is refused. Responses carry a strict
 * Content-Security-Policy (own scripts only, Trusted Types with no policy: no HTML sinks at all),
 * `nosniff`, `no-referrer`, `DENY` framing and `no-store`; the page renders state only as text.
 *
 * @example
 * const ui = await startUiServer({ storage: await openStorage('file:./.plugin-state') });
 * console.log(`Open ${ui.url}`);
 * process.once('SIGINT', () => void ui.close());
 */
export async function startUiServer(options: UiServerOptions): Promise<UiServer> {
  const host = options.host ?? '127.0.0.1';
  const token = checkToken(options.token ?? randomToken());
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const assets = loadAssets(token);
  const index = new StateIndex(options.storage, options.pluginNames ?? new Map());

  let port = 0;
  let hosts = new Set<string>();
  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => failed(response, error));
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    setSecurityHeaders(response);
    const method = request.method ?? 'GET';
    if (!hostAllowed(request, hosts, port)) return sendText(response, 403, 'Forbidden: wrong Host header.\n');
    const url = URL.canParse(request.url ?? '/', 'http://localhost')
      ? new URL(request.url ?? '/', 'http://localhost')
      : undefined;
    if (!url) return sendText(response, 400, 'Bad request.\n');
    const api = url.pathname.startsWith('/api/');

    const header = request.headers[TOKEN_HEADER];
    const fromQuery = url.searchParams.get('token') ?? undefined;
    const presented =
      typeof header === 'string'
        ? header
        : fromQuery !== undefined && !UNSAFE_METHODS.has(method)
          ? fromQuery
          : cookieValue(request, cookieName(port));
    if (!tokenMatches(presented, token)) return sendUnauthorized(response, api);

    if (!METHODS.has(method)) throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${method} is not supported.`);
    if (UNSAFE_METHODS.has(method)) {
      if (typeof header !== 'string') {
        throw new HttpError(
          403,
          'TOKEN_HEADER_REQUIRED',
          `A change needs the token in the ${TOKEN_HEADER} header.`,
        );
      }
      if (!originAllowed(request, hosts)) {
        throw new HttpError(403, 'CROSS_ORIGIN', 'A change from another origin is refused.');
      }
    }

    if (fromQuery !== undefined && typeof header !== 'string') {
      // Trade the token in the URL for a cookie, and take it out of the address bar.
      response.setHeader('Set-Cookie', tokenCookie(port, token));
      if (!api) {
        url.searchParams.delete('token');
        // One leading slash only: `//host` would be a redirect to another site.
        response.writeHead(303, { Location: `${url.pathname.replace(/^\/+/, '/')}${url.search}` });
        response.end();
        return;
      }
    }

    if (api) return handleApi(request, response, url, { storage: options.storage, index });
    if (method !== 'GET' && method !== 'HEAD')
      throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'Read-only path.');
    if (url.pathname === '/') return sendAsset(response, 'text/html; charset=utf-8', assets.page);
    const file = assets.files.get(url.pathname);
    if (file) return sendAsset(response, file.type, file.body);
    throw new HttpError(404, 'NOT_FOUND', `${url.pathname} is not here.`);
  }

  function failed(response: ServerResponse, error: unknown): void {
    const { status, body } = errorResponse(error);
    if (status >= 500) log(`plugin-state ui: ${(error as Error)?.stack ?? String(error)}`);
    if (response.headersSent) {
      response.destroy(); // a download cut short: the client sees a failed transfer, not a short file
      return;
    }
    sendJson(response, status, body);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  hosts = allowedHosts(host, port);
  if (!isLoopback(host)) {
    log(
      `plugin-state ui: WARNING: listening on ${host}, not on loopback: anyone who can reach this machine ` +
        'and has the token can read and change every state, over plain HTTP (unencrypted).',
    );
  }
  // Warm the list up, so the first page does not wait for a cold storage.
  index.summaries().catch(() => undefined);

  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${hostWithPort(shown, port)}/?token=${token}`,
    port,
    token,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
