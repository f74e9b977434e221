// Who may talk to the UI server: the access token, the cookie it becomes, and the Host and Origin
// checks that keep other sites (and DNS rebinding) out. See `startUiServer` for the whole model.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';

/** The header a page (or a script) sends the token in; the only way to authorize a change. */
export const TOKEN_HEADER = 'x-plugin-state-token';

/** A fresh token: 32 random bytes, base64url (43 characters). */
export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Tokens go into a URL, a cookie and a header unescaped: only URL-safe characters, 16 or more. */
export function checkToken(token: string): string {
  if (!/^[A-Za-z0-9._~-]{16,512}$/.test(token)) {
    throw new TypeError(
      'startUiServer: a token must be 16 to 512 characters from A-Z a-z 0-9 . _ ~ - (leave it out to get a random one)',
    );
  }
  return token;
}

/**
 * Compares a presented token with the server's in constant time: both are hashed first, so
 * neither the content nor the length of the real token shows in how long a wrong guess takes.
 */
export function tokenMatches(presented: string | undefined, token: string): boolean {
  if (presented === undefined) return false;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

/** The cookie carries the port: cookies ignore ports, and two UIs on one machine must not clash. */
export function cookieName(port: number): string {
  return `plugin-state-token-${port}`;
}

export function tokenCookie(port: number, token: string): string {
  return `${cookieName(port)}=${token}; Path=/; HttpOnly; SameSite=Strict`;
}

export function cookieValue(request: IncomingMessage, name: string): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || bare === '::1') return true;
  const v4 = bare.startsWith('::ffff:') ? bare.slice(7) : bare;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]';
}

/** `host:port` as a Host header spells it (IPv6 addresses in brackets). */
export function hostWithPort(host: string, port: number): string {
  const bare = host.replace(/^\[|\]$/g, '');
  return `${isIP(bare) === 6 ? `[${bare}]` : bare}:${port}`.toLowerCase();
}

/**
 * The Host header values this server answers to: its own address, plus the loopback names when it
 * listens on loopback, plus this machine's interface addresses and host name when it listens on
 * every interface. A page on another name (a DNS-rebinding attacker's domain that now points here)
 * is refused before anything else is looked at.
 */
export function allowedHosts(host: string, port: number): Set<string> {
  const names = new Set<string>([host]);
  if (isLoopback(host) || isWildcard(host)) {
    for (const name of ['127.0.0.1', 'localhost', '::1']) names.add(name);
  }
  if (isWildcard(host)) {
    names.add(hostname());
    for (const entries of Object.values(networkInterfaces())) {
      for (const entry of entries ?? []) names.add(entry.address.replace(/%.*$/, ''));
    }
  }
  return new Set([...names].filter((name) => !isWildcard(name)).map((name) => hostWithPort(name, port)));
}

/** Whether the request's Host header names this server (with the port it listens on). */
export function hostAllowed(request: IncomingMessage, hosts: Set<string>, port: number): boolean {
  const header = request.headers.host?.toLowerCase();
  if (!header) return false;
  return hosts.has(header) || (port === 80 && hosts.has(`${header}:80`));
}

/** A missing Origin is fine (curl, scripts); one that is present must be this server's own. */
export function originAllowed(request: IncomingMessage, hosts: Set<string>): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  const match = /^http:\/\/(.+)$/i.exec(origin);
  return match !== null && hosts.has(match[1]!.toLowerCase());
}

/**
 * The page runs only its own scripts and styles (no inline script, no eval), may connect only to
 * this server, cannot be framed, and may not use string-to-HTML sinks at all (Trusted Types with no
 * policy), so no state value can ever be parsed as HTML.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join('; ');

/** Set on every response, the 401 and the downloads included. */
export function setSecurityHeaders(response: ServerResponse): void {
  response.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  response.setHeader('X-Content-Type-Options', 'nosniff');
  response.setHeader('Referrer-Policy', 'no-referrer');
  response.setHeader('X-Frame-Options', 'DENY');
  response.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  response.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  response.setHeader('Cache-Control', 'no-store');
}
