import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AuthFailures,
  checkBearer,
  checkSession,
  makeSessionCookie,
  SESSION_LIFETIME_MS,
} from '../../src/admin/auth.js';

const TOKEN = 'a-token-of-enough-length-0123456789';

describe('admin auth helpers', () => {
  it('checkBearer takes exactly "Bearer <token>"', () => {
    assert.equal(checkBearer(TOKEN, `Bearer ${TOKEN}`), true);
    assert.equal(checkBearer(TOKEN, `bearer ${TOKEN}`), true);
    assert.equal(checkBearer(TOKEN, `Bearer ${TOKEN}x`), false);
    assert.equal(checkBearer(TOKEN, `Bearer ${TOKEN.slice(1)}`), false);
    assert.equal(checkBearer(TOKEN, TOKEN), false);
    assert.equal(checkBearer(TOKEN, undefined), false);
    assert.equal(checkBearer(TOKEN, `Basic ${TOKEN}`), false);
  });

  it('a session cookie is valid for 12 h under the token that made it', () => {
    const now = 1_800_000_000_000;
    const cookie = makeSessionCookie(TOKEN, now);
    assert.match(cookie, /^[A-Za-z0-9_-]{43}\.1800000000000$/);
    assert.equal(checkSession(TOKEN, cookie, now), true);
    assert.equal(checkSession(TOKEN, cookie, now + SESSION_LIFETIME_MS), true);
    assert.equal(checkSession(TOKEN, cookie, now + SESSION_LIFETIME_MS + 1), false);
    assert.equal(checkSession(`${TOKEN}!`, cookie, now), false);
    assert.equal(checkSession(TOKEN, cookie.replace(/\.\d+$/, `.${now + 1}`), now), false);
    assert.equal(checkSession(TOKEN, makeSessionCookie(TOKEN, now + 3_600_000), now), false, 'from the future');
    for (const bad of ['', '.', 'abc', `${cookie}x`, `x${cookie}`]) assert.equal(checkSession(TOKEN, bad, now), false);
  });

  it('AuthFailures refuses an address after the limit within the window', () => {
    const f = new AuthFailures(3, 60_000);
    for (let i = 0; i < 3; i++) {
      assert.equal(f.blocked('192.0.2.1', i), false);
      f.fail('192.0.2.1', i);
    }
    assert.equal(f.blocked('192.0.2.1', 10), true);
    assert.equal(f.blocked('192.0.2.2', 10), false);
    assert.equal(f.blocked('192.0.2.1', 60_001), false, 'the oldest failure left the window');
  });
});
