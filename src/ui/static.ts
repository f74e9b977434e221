// The page and its assets, read once from `assets/` beside this module: `src/ui/assets` when run
// from source, `dist/ui/assets` (copied by `npm run build`) when run from the package.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sendText } from './http.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Where the assets are: always the package's own files, never a path from outside. */
export const ASSETS_DIR = fileURLToPath(new URL('./assets/', import.meta.url));

/** The placeholder in index.html that becomes the token, for the page to send in its header. */
const TOKEN_PLACEHOLDER = '%PLUGIN_STATE_TOKEN%';

export interface Assets {
  /** index.html with the token filled in. */
  page: Buffer;
  /** `/assets/…` path → file. Only these paths are served: no path from a request touches the disk. */
  files: Map<string, { type: string; body: Buffer }>;
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

export function loadAssets(token: string): Assets {
  let paths: string[];
  try {
    paths = walk(ASSETS_DIR);
  } catch (error) {
    throw new Error(
      `The web UI's assets are missing from ${ASSETS_DIR} (${(error as Error).message}): ` +
        'run `npm run build`, which copies src/ui/assets to dist/ui/assets.',
    );
  }
  const files = new Map<string, { type: string; body: Buffer }>();
  let page: Buffer | undefined;
  for (const path of paths) {
    const type = TYPES[extname(path)];
    if (!type) continue;
    const name = relative(ASSETS_DIR, path).split(sep).join('/');
    if (name === 'index.html') {
      // The token is URL-safe by construction (checkToken), so it needs no escaping in an attribute.
      page = Buffer.from(readFileSync(path, 'utf8').replace(TOKEN_PLACEHOLDER, token));
    } else {
      files.set(`/assets/${name}`, { type, body: readFileSync(path) });
    }
  }
  if (!page) throw new Error(`The web UI's index.html is missing from ${ASSETS_DIR}: run \`npm run build\`.`);
  return { page, files };
}

export function sendAsset(response: ServerResponse, type: string, body: Buffer): void {
  response.writeHead(200, { 'Content-Type': type, 'Content-Length': body.length });
  response.end(body);
}

/** The 401 answer: the same few words for every path, and nothing about the server or its states. */
export function sendUnauthorized(response: ServerResponse, api: boolean): void {
  if (api) {
    response.setHeader('WWW-Authenticate', 'Token header="X-Plugin-State-Token"');
    sendText(
      response,
      401,
      '{"error":{"code":"UNAUTHORIZED","message":"Missing or wrong access token."}}',
      'application/json',
    );
    return;
  }
  sendText(
    response,
    401,
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>401 Unauthorized</title></head>' +
      '<body><h1>401 Unauthorized</h1><p>This page needs its access token. Open the full URL the ' +
      'server printed when it started (it ends in <code>?token=…</code>).</p></body></html>',
    'text/html',
  );
}
