// Small helpers for answering HTTP requests with JSON, and for turning the library's typed errors
// into status codes the page can act on.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ConflictError, PluginStateError, ValidationError, VersionIncompatibilityError } from '../index.js';

/** A request body larger than this is refused with 413 before it is parsed. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;

/** An error that already knows its HTTP status and the JSON the client gets. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  response.end(text);
}

export function sendText(response: ServerResponse, status: number, text: string, type = 'text/plain'): void {
  response.writeHead(status, {
    'Content-Type': `${type}; charset=utf-8`,
    'Content-Length': Buffer.byteLength(text),
  });
  response.end(text);
}

/** Reads and parses a JSON request body (which must say it is JSON), at most {@link MAX_BODY_BYTES}. */
export async function readJson(request: IncomingMessage): Promise<unknown> {
  const type = request.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) {
    throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json.');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      throw new HttpError(413, 'TOO_LARGE', `The body is larger than ${MAX_BODY_BYTES} bytes.`);
    }
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    throw new HttpError(400, 'BAD_JSON', `The body is not valid JSON: ${(error as Error).message}`);
  }
}

/** The status and JSON body for an error thrown while handling an API request. */
export function errorResponse(error: unknown): { status: number; body: Record<string, unknown> } {
  if (error instanceof HttpError) {
    return {
      status: error.status,
      body: { error: { code: error.code, message: error.message }, ...error.extra },
    };
  }
  if (error instanceof PluginStateError) {
    const status =
      error instanceof ValidationError
        ? 400
        : error instanceof ConflictError || error instanceof VersionIncompatibilityError
          ? 409
          : error.code === 'SERIALIZATION' || error.code === 'INTEGRITY'
            ? 422
            : 500;
    const detail: Record<string, unknown> = { code: error.code, message: error.message };
    if (error instanceof ValidationError && error.issues.length > 0) detail.issues = error.issues;
    if (error instanceof ConflictError) detail.storedRevision = error.storedRevision;
    return { status, body: { error: detail } };
  }
  return {
    status: 500,
    body: { error: { code: 'INTERNAL', message: 'Internal error: see the server log.' } },
  };
}
