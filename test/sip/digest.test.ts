import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAuthHeader, parseMessage, SipParseError } from '../../src/index.js';
import { request, response } from '../helpers/messages.js';

function rejects(s: string, header = 'Authorization'): void {
  assert.throws(
    () => parseAuthHeader(s, header),
    (e) => e instanceof SipParseError && e.code === 'bad-header' && e.header === header,
    `${JSON.stringify(s)} must be rejected`,
  );
}

const MD5_CREDENTIALS =
  'Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", ' +
  'uri="sip:bob@biloxi.com", qop=auth, nc=00000001, cnonce="0a4f113b", ' +
  'response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"';

// RFC 8760 style: SHA-256 with a 64-hex-digit response.
const SHA256_CREDENTIALS =
  'Digest username="alice", realm="atlanta.example.com", ' +
  'nonce="7a12ad9b38c0e1d57f1b2c68d98f3e3d", uri="sips:atlanta.example.com", ' +
  'response="2a2c1e4e1bf0d6a2a0d7e7c9f7b9b3ed0a8c0e6b7c3b1f0a9d8e7f6a5b4c3d2e", ' +
  'algorithm=SHA-256, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, nc=00000002';

describe('parseAuthHeader: credentials', () => {
  it('reads MD5 digest credentials with qop, nc, cnonce, opaque', () => {
    const a = parseAuthHeader(MD5_CREDENTIALS, 'Authorization');
    assert.equal(a.scheme, 'Digest');
    assert.equal(a.isDigest, true);
    assert.equal(a.username, 'bob');
    assert.equal(a.realm, 'biloxi.com');
    assert.equal(a.nonce, 'dcd98b7102dd2f0e8b11d0f600bfb0c093');
    assert.equal(a.uri, 'sip:bob@biloxi.com');
    assert.equal(a.qop, 'auth');
    assert.equal(a.nc, '00000001');
    assert.equal(a.cnonce, '0a4f113b');
    assert.equal(a.response, '6629fae49393a05397450978507c4ef1');
    assert.equal(a.opaque, '5ccc069c403ebaf9f0171e9517f40e41');
    assert.equal(a.algorithm, 'MD5', 'MD5 is the default algorithm');
  });

  it('reads token68 credentials of other schemes (RFC 7235 2.1: Bearer, RFC 8898; Basic)', () => {
    const bearer = parseAuthHeader('Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln-_~+/', 'Authorization');
    assert.equal(bearer.scheme, 'Bearer');
    assert.equal(bearer.isDigest, false);
    assert.equal(bearer.username, undefined);
    assert.equal(parseAuthHeader('Basic dXNlcjpwYXNzd29yZA==  ', 'Authorization').scheme, 'Basic');
    // Not a token68: a second word, or a quote.
    assert.throws(() => parseAuthHeader('Bearer abc def', 'Authorization'));
    assert.throws(() => parseAuthHeader('Bearer "abc"', 'Authorization'));
  });

  it('reads SHA-256 credentials (RFC 8760)', () => {
    const a = parseAuthHeader(SHA256_CREDENTIALS, 'Authorization');
    assert.equal(a.algorithm, 'SHA-256');
    assert.equal(a.username, 'alice');
    assert.equal(a.uri, 'sips:atlanta.example.com');
    assert.equal(a.response?.length, 64);
    assert.equal(a.cnonce, 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ');
    assert.equal(a.nc, '00000002');
  });

  it('normalises the algorithm case and keeps -sess forms', () => {
    assert.equal(parseAuthHeader('Digest algorithm=sha-512-256', 'Authorization').algorithm, 'SHA-512-256');
    assert.equal(parseAuthHeader('Digest algorithm="md5-sess"', 'Authorization').algorithm, 'MD5-SESS');
  });

  it('unescapes quoted values with escaped quotes and backslashes', () => {
    const a = parseAuthHeader('Digest username="a\\"b\\\\c", realm="r,e;a=l"', 'Authorization');
    assert.equal(a.username, 'a"b\\c');
    assert.equal(a.realm, 'r,e;a=l', 'commas and semicolons inside quotes belong to the value');
  });

  it('lower-cases parameter names and tolerates LWS', () => {
    const a = parseAuthHeader('  Digest   USERNAME = "bob" ,Realm="x"  ,  NONCE=abc  ', 'Authorization');
    assert.equal(a.username, 'bob');
    assert.equal(a.realm, 'x');
    assert.equal(a.nonce, 'abc');
    assert.deepEqual([...a.params.keys()], ['username', 'realm', 'nonce']);
  });

  it('parses unknown schemes so the proxy can carry them (RFC 4475 3.3.7)', () => {
    const a = parseAuthHeader('NoOneKnowsThisScheme opaque-data=here', 'Authorization');
    assert.equal(a.scheme, 'NoOneKnowsThisScheme');
    assert.equal(a.isDigest, false);
    assert.equal(a.params.get('opaque-data'), 'here');
    assert.equal(a.username, undefined);
    assert.equal(parseAuthHeader('Digest', 'Authorization').params.size, 0, 'a scheme alone');
  });

  it('rejects malformed credentials', () => {
    rejects('');
    rejects('   ');
    rejects('Digest username="bob'); // unbalanced quote
    rejects('Digest username="bob", realm="x'); // unbalanced quote
    rejects('Digest username'); // missing '='
    rejects('Digest username=, realm="x"'); // missing value
    rejects('Digest username="a", username="b"'); // duplicate parameter
    rejects('Digest USERNAME="a", username="b"'); // duplicate, any case
    rejects('Digest username="a",'); // trailing comma
    rejects('Digest ,username="a"'); // leading comma
    rejects('Digest username="a" realm="b"'); // missing comma
    rejects('Digest username="a"; realm="b"'); // ';' is not a separator here
    rejects('Digest username=é');
    rejects('"Digest" username="a"');
  });
});

describe('parseAuthHeader: challenges', () => {
  it('reads qop options and stale', () => {
    const c = parseAuthHeader(
      'Digest realm="atlanta.example.com", nonce="84f1c1ae6cbe5ua9", qop="auth,auth-int", stale=TRUE, algorithm=SHA-256',
      'WWW-Authenticate',
    );
    assert.equal(c.realm, 'atlanta.example.com');
    assert.equal(c.qop, 'auth,auth-int');
    assert.deepEqual(c.qopOptions, ['auth', 'auth-int']);
    assert.equal(c.stale, true, 'stale is case-insensitive');
    assert.equal(c.algorithm, 'SHA-256');
  });

  it('defaults: no qop options, not stale', () => {
    const c = parseAuthHeader('Digest realm="x", nonce="y", stale=false', 'WWW-Authenticate');
    assert.deepEqual(c.qopOptions, []);
    assert.equal(c.stale, false);
    assert.equal(parseAuthHeader('Digest realm="x"', 'WWW-Authenticate').stale, false);
    assert.deepEqual(parseAuthHeader('Digest qop=" auth , auth-int ,"', 'WWW-Authenticate').qopOptions, [
      'auth',
      'auth-int',
    ]);
  });

  it('names the header in errors', () => {
    rejects('Digest realm="x', 'Proxy-Authenticate');
  });
});

describe('auth headers of a message', () => {
  it('decodes Authorization and Proxy-Authorization', () => {
    const msg = parseMessage(
      request(
        { Authorization: MD5_CREDENTIALS, 'Proxy-Authorization': SHA256_CREDENTIALS },
        { method: 'REGISTER', startLine: 'REGISTER sip:biloxi.com SIP/2.0' },
      ),
    );
    assert.equal(msg.authorization?.username, 'bob');
    assert.equal(msg.proxyAuthorization?.algorithm, 'SHA-256');
    assert.equal(msg.wwwAuthenticate, undefined);
    assert.equal(msg.proxyAuthenticate, undefined);
  });

  it('offers every WWW-Authenticate line (MD5 and SHA-256 challenges)', () => {
    const msg = parseMessage(
      response(
        {
          'WWW-Authenticate': [
            'Digest realm="atlanta.example.com", nonce="n1", algorithm=SHA-256, qop="auth"',
            'Digest realm="atlanta.example.com", nonce="n1", algorithm=MD5, qop="auth"',
          ],
          'Proxy-Authenticate': 'Digest realm="proxy.example.com", nonce="p1"',
        },
        { startLine: 'SIP/2.0 401 Unauthorized', method: 'REGISTER' },
      ),
    );
    assert.equal(msg.wwwAuthenticate?.algorithm, 'SHA-256', 'the accessor gives the first line');
    assert.deepEqual(
      msg.authHeaders('WWW-Authenticate').map((c) => c.algorithm),
      ['SHA-256', 'MD5'],
    );
    assert.equal(msg.authHeaders('Proxy-Authenticate')[0]?.realm, 'proxy.example.com');
    assert.deepEqual(msg.authHeaders('Authorization'), []);
  });

  it('rejects a malformed auth header lazily, or at once with validate: full', () => {
    const data = request({ Authorization: 'Digest username="bob' });
    const msg = parseMessage(data);
    assert.throws(() => msg.authorization, SipParseError);
    assert.throws(
      () => parseMessage(data, { validate: 'full' }),
      (e) => e instanceof SipParseError && e.header === 'Authorization',
    );
  });

  it('checks every WWW-Authenticate line with validate: full', () => {
    const data = response(
      { 'WWW-Authenticate': ['Digest realm="ok", nonce="1"', 'Digest realm="x", realm="y"'] },
      { startLine: 'SIP/2.0 401 Unauthorized' },
    );
    assert.equal(parseMessage(data).wwwAuthenticate?.realm, 'ok');
    assert.throws(
      () => parseMessage(data, { validate: 'full' }),
      (e) => e instanceof SipParseError && e.header === 'WWW-Authenticate',
    );
  });
});
