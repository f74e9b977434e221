// The UI server's access rules at the HTTP level: the token on every request, the cookie it
// becomes, the header that changes need, Origin and Host checks, and the security headers.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startUiServer } from '../../src/ui/index.js';
import { api, idOf, request, type Started, startUi, TOKEN_HEADER } from './helpers.js';

const SECRET = 'the-stored-secret-value';

async function withState(t: Parameters<typeof startUi>[0]): Promise<Started> {
  const started = await startUi(t, { pluginNames: new Map([[idOf(1), 'secret-plugin']]) });
  await started.storage.saveState({ pluginId: idOf(1), data: { secret: SECRET }, lastModified: new Date() });
  return started;
}

/** Asserts a refusal says nothing about the server's states or token. */
function assertLeaksNothing(started: Started, text: string): void {
  for (const secret of [started.ui.token, SECRET, idOf(1), 'secret-plugin', 'MemoryStateStorage']) {
    assert.ok(!text.includes(secret), `the answer leaks ${secret}: ${text}`);
  }
}

const PATHS = [
  '/',
  '/assets/js/app.js',
  '/assets/app.css',
  '/api/states',
  `/api/states/${idOf(1)}`,
  '/api/export',
  '/api/backup',
];

describe('web UI security', () => {
  it('refuses every path without the token: 401, nothing leaked', async (t) => {
    const started = await withState(t);
    for (const path of PATHS) {
      const reply = await request(started.ui.port, path);
      assert.equal(reply.status, 401, path);
      assertLeaksNothing(started, reply.text);
      assert.ok(reply.headers['content-security-policy'], `${path} has a CSP`);
    }
    const page = await request(started.ui.port, '/');
    assert.match(page.text, /401 Unauthorized/);
    assert.match(page.headers['content-type']!, /text\/html/);
    const apiReply = await request(started.ui.port, '/api/states');
    assert.equal(apiReply.json().error.code, 'UNAUTHORIZED');
  });

  it('refuses a wrong token in the header, the query and the cookie, whatever its length', async (t) => {
    const started = await withState(t);
    const { token, port } = started.ui;
    const wrong = [
      `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`, // one character off
      token.slice(0, 10), // a prefix
      `${token}x`, // longer
      '',
    ];
    for (const guess of wrong) {
      for (const path of PATHS) {
        const viaHeader = await request(port, path, { headers: { [TOKEN_HEADER]: guess } });
        assert.equal(viaHeader.status, 401, `header ${guess} on ${path}`);
        assertLeaksNothing(started, viaHeader.text);
        const viaCookie = await request(port, path, {
          headers: { Cookie: `plugin-state-token-${port}=${guess}` },
        });
        assert.equal(viaCookie.status, 401, `cookie ${guess} on ${path}`);
      }
      const viaQuery = await request(port, `/?token=${encodeURIComponent(guess)}`);
      assert.equal(viaQuery.status, 401);
      assert.equal(viaQuery.headers['set-cookie'], undefined);
      assertLeaksNothing(started, viaQuery.text);
    }
    // A right cookie does not rescue a wrong header: the header, when sent, is what counts.
    const mixed = await request(port, '/api/states', {
      headers: { [TOKEN_HEADER]: 'wrong-token-wrong-token', Cookie: `plugin-state-token-${port}=${token}` },
    });
    assert.equal(mixed.status, 401);
  });

  it('trades ?token= for an HttpOnly, SameSite=Strict cookie and drops it from the address bar', async (t) => {
    const started = await withState(t);
    const { token, port } = started.ui;
    assert.equal(started.ui.url, `http://127.0.0.1:${port}/?token=${token}`);
    const login = await request(port, `/?token=${token}`);
    assert.equal(login.status, 303);
    assert.equal(login.headers.location, '/');
    const cookie = login.headers['set-cookie']![0]!;
    assert.match(cookie, new RegExp(`^plugin-state-token-${port}=${token};`));
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.match(cookie, /Path=\//);

    for (const path of ['//evil.example/', '/\\evil.example/', '///evil.example/']) {
      const redirect = await request(port, `${path}?token=${token}`);
      assert.equal(redirect.status, 303, path);
      assert.match(redirect.headers.location!, /^\/(?![/\\])/, `${path} redirects on this site only`);
    }

    const page = await request(port, '/', { headers: { Cookie: cookie.split(';')[0]! } });
    assert.equal(page.status, 200);
    assert.match(page.text, /<script type="module" src="\/assets\/js\/app.js"><\/script>/);
    assert.ok(
      page.text.includes(`<meta name="plugin-state-token" content="${token}">`),
      'the page gets the token for its header',
    );
    const asset = await request(port, '/assets/js/app.js', { headers: { Cookie: cookie.split(';')[0]! } });
    assert.equal(asset.status, 200);
    assert.match(asset.headers['content-type']!, /text\/javascript/);
    // Reads through the cookie work (downloads are links), and ?token= works for scripts too.
    assert.equal(
      (await request(port, '/api/export', { headers: { Cookie: cookie.split(';')[0]! } })).status,
      200,
    );
    assert.equal((await request(port, `/api/states?token=${token}`)).status, 200);
  });

  it('refuses a change that carries the token only in a cookie or the query (CSRF)', async (t) => {
    const started = await withState(t);
    const { token, port } = started.ui;
    const cookie = `plugin-state-token-${port}=${token}`;
    const put = await request(port, `/api/states/${idOf(1)}`, {
      method: 'PUT',
      headers: { Cookie: cookie },
      body: { data: { secret: 'overwritten' }, expectedRevision: 1 },
    });
    assert.equal(put.status, 403);
    assert.equal(put.json().error.code, 'TOKEN_HEADER_REQUIRED');
    const del = await request(port, `/api/states/${idOf(1)}?expectedRevision=1`, {
      method: 'DELETE',
      headers: { Cookie: cookie },
    });
    assert.equal(del.status, 403);
    const restore = await request(port, `/api/states/${idOf(1)}/revisions/1/restore`, {
      method: 'POST',
      headers: { Cookie: cookie },
      body: { expectedRevision: 1 },
    });
    assert.equal(restore.status, 403);
    const viaQuery = await request(port, `/api/states/${idOf(1)}?token=${token}`, {
      method: 'PUT',
      body: { data: { secret: 'overwritten' }, expectedRevision: 1 },
    });
    assert.equal(viaQuery.status, 401);
    assert.deepEqual((await started.storage.loadState(idOf(1)))?.data, { secret: SECRET });
  });

  it('refuses a change from another origin, even with the token header', async (t) => {
    const started = await withState(t);
    const { port } = started.ui;
    for (const origin of [
      'http://evil.example',
      `http://evil.example:${port}`,
      'null',
      `https://127.0.0.1:${port}`,
    ]) {
      const reply = await api(started, `/api/states/${idOf(1)}`, {
        method: 'PUT',
        headers: { Origin: origin },
        body: { data: { secret: 'overwritten' }, expectedRevision: 1 },
      });
      assert.equal(reply.status, 403, origin);
      assert.equal(reply.json().error.code, 'CROSS_ORIGIN');
    }
    assert.deepEqual((await started.storage.loadState(idOf(1)))?.data, { secret: SECRET });
    const sameOrigin = await api(started, `/api/states/${idOf(1)}`, {
      method: 'PUT',
      headers: { Origin: `http://127.0.0.1:${port}` },
      body: { data: { secret: 'changed' }, expectedRevision: 1 },
    });
    assert.equal(sameOrigin.status, 200);
  });

  it('refuses a Host that is not its own (DNS rebinding), even with the token', async (t) => {
    const started = await withState(t);
    const { port } = started.ui;
    for (const host of [
      'evil.example',
      `evil.example:${port}`,
      `127.0.0.1:${port + 1}`,
      `127.0.0.2:${port}`,
    ]) {
      for (const path of ['/', '/api/states', '/assets/app.css']) {
        const reply = await api(started, path, { headers: { Host: host } });
        assert.equal(reply.status, 403, `${host} ${path}`);
        assertLeaksNothing(started, reply.text);
      }
      const put = await api(started, `/api/states/${idOf(1)}`, {
        method: 'PUT',
        headers: { Host: host },
        body: { data: { secret: 'overwritten' }, expectedRevision: 1 },
      });
      assert.equal(put.status, 403);
    }
    assert.deepEqual((await started.storage.loadState(idOf(1)))?.data, { secret: SECRET });
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`]) {
      assert.equal((await api(started, '/api/states', { headers: { Host: host } })).status, 200, host);
    }
  });

  it('sends the security headers on pages, assets, API answers and refusals', async (t) => {
    const started = await withState(t);
    const { port, token } = started.ui;
    const replies = [
      await api(started, '/'),
      await api(started, '/assets/app.css'),
      await api(started, '/api/states'),
      await api(started, '/api/nothing'),
      await request(port, '/'),
      await request(port, '/', { headers: { Host: 'evil.example' } }),
      await request(port, `/?token=${token}`),
    ];
    for (const reply of replies) {
      const csp = reply.headers['content-security-policy'] as string;
      assert.match(csp, /default-src 'self'/);
      assert.match(csp, /script-src 'self'(;|$)/);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.match(csp, /require-trusted-types-for 'script'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      assert.equal(reply.headers['x-content-type-options'], 'nosniff');
      assert.equal(reply.headers['referrer-policy'], 'no-referrer');
      assert.equal(reply.headers['x-frame-options'], 'DENY');
      assert.equal(reply.headers['cache-control'], 'no-store');
    }
  });

  it('serves no inline script, and the page code never turns strings into HTML', () => {
    const dir = fileURLToPath(new URL('../../src/ui/assets/', import.meta.url));
    const html = readFileSync(join(dir, 'index.html'), 'utf8');
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'every script has a src');
    assert.doesNotMatch(html, /\son\w+=/i, 'no inline event handler');
    assert.doesNotMatch(html, /style=/i, 'no inline style');
    for (const name of readdirSync(join(dir, 'js'))) {
      const code = readFileSync(join(dir, 'js', name), 'utf8');
      const sink = /innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function/.exec(code);
      assert.equal(sink, null, `${name} uses ${sink?.[0]}`);
    }
  });

  it('warns when it listens beyond loopback, and only then', async (t) => {
    const local = await startUi(t);
    assert.deepEqual(local.logs, []);
    const everywhere = await startUi(t, { host: '0.0.0.0' });
    assert.equal(everywhere.logs.length, 1);
    assert.match(everywhere.logs[0]!, /WARNING: listening on 0\.0\.0\.0, not on loopback/);
    assert.match(everywhere.ui.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=/);
    assert.equal((await api(everywhere, '/api/states')).status, 200, 'loopback still answers');
  });

  it('makes a fresh random token each time, and refuses a token unfit for a URL', async (t) => {
    const a = await startUi(t);
    const b = await startUi(t);
    assert.match(a.ui.token, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(a.ui.token, b.ui.token);
    assert.notEqual(a.ui.port, b.ui.port);
    await assert.rejects(startUiServer({ storage: a.storage, token: 'short' }), /16 to 512 characters/);
    await assert.rejects(
      startUiServer({ storage: a.storage, token: 'has "quotes" and spaces in it' }),
      TypeError,
    );
  });
});
