import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseMessage, SipParseError } from '../../src/index.js';
import { loadCorpus } from '../helpers/corpus.js';

/**
 * What sipwarden does with each "semantic" and "either" message of the torture corpus.
 * `ok` parses (the proxy or a guard then applies the RFC's behaviour); an error code means
 * the parser rejects it and the proxy answers 400 (or drops a response).
 */
const EXPECTED: Record<string, 'ok' | string> = {
  'rfc4475/badbranch.dat': 'ok',
  'rfc4475/insuf.dat': 'missing-header',
  'rfc4475/unkscm.dat': 'ok',
  'rfc4475/novelsc.dat': 'ok',
  'rfc4475/unksm2.dat': 'ok',
  'rfc4475/bext01.dat': 'ok',
  'rfc4475/invut.dat': 'ok',
  'rfc4475/regaut01.dat': 'ok',
  'rfc4475/multi01.dat': 'duplicate-header',
  'rfc4475/mcl01.dat': 'bad-content-length',
  'rfc4475/bcast.dat': 'ok',
  'rfc4475/zeromf.dat': 'ok',
  'rfc4475/cparam01.dat': 'ok',
  'rfc4475/cparam02.dat': 'ok',
  'rfc4475/regescrt.dat': 'ok',
  'rfc4475/sdp01.dat': 'ok',
  // RFC 2543 request without Max-Forwards: sipwarden requires Max-Forwards on requests.
  'rfc4475/inv2543.dat': 'missing-header',
  // RFC 5118 4.4: three colons is an ABNF bug; sipwarden rejects the address.
  'rfc5118/ipv6-bug-abnf-3-colons.dat': 'bad-header',
  // RFC 5118 4.5: [2001:db8::10:5070] is a valid IPv6 reference without a port.
  'rfc5118/port-ambiguous.dat': 'ok',
};

function outcome(data: Buffer): string {
  try {
    parseMessage(data, { validate: 'full' });
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof SipParseError, `threw ${String(err)}`);
    assert.ok(err.reason.length > 0 && /^[\x20-\x7e]+$/.test(err.reason), 'reason is printable ASCII');
    return err.code;
  }
}

describe('torture corpus (RFC 4475, RFC 5118)', () => {
  for (const entry of loadCorpus()) {
    it(`${entry.file} (${entry.class})`, () => {
      const got = outcome(entry.data);
      if (entry.class === 'valid') assert.equal(got, 'ok');
      else if (entry.class === 'invalid') assert.notEqual(got, 'ok', 'an invalid message must be rejected');
      else assert.equal(got, EXPECTED[entry.file], `documented outcome for ${entry.file}`);
    });
  }
});
