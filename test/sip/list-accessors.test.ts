import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { H } from '../../src/sip/header-names.js';
import { parseMessage, parseNameAddr, parseVia, type SipMessage, SipParseError } from '../../src/sip/index.js';
import { splitList } from '../../src/sip/split.js';
import { loadCorpus } from '../helpers/corpus.js';
import { caseSeed, fuzzSeed, mutate, Rng } from '../helpers/fuzz.js';
import { EXTRA_SEEDS } from '../helpers/messages.js';

/**
 * `vias`, `contact`, `recordRoutes` and `paths` decode plain lines in place (plain.ts) and
 * fall back to the string decoders: the result, or the error, must be what the string
 * decoders alone give.
 */
function reference(msg: SipMessage, id: H, what: string, via: boolean): unknown {
  const out: unknown[] = [];
  for (let k = 0; k < msg.headerCount; k++) {
    if (msg.headerIdAt(k) !== id) continue;
    const v = msg.headerValueAt(k);
    for (const [a, b] of splitList(v)) out.push(via ? parseVia(v, a, b) : parseNameAddr(v, a, b, what));
  }
  return out;
}

function outcome(f: () => unknown): string {
  try {
    return JSON.stringify(f());
  } catch (err) {
    if (err instanceof SipParseError) return `error: ${err.code}`;
    throw err;
  }
}

describe('list accessors: in-place decoding gives what the string decoders give', () => {
  it('on the corpus and mutated messages', () => {
    const seeds = [...loadCorpus().map((e) => e.data), ...EXTRA_SEEDS];
    const seed = fuzzSeed();
    let compared = 0;
    for (let i = 0; i < 8000; i++) {
      const rng = new Rng(caseSeed(seed, i));
      const data = i < seeds.length ? seeds[i]! : mutate(rng, rng.pick(seeds), { seeds, maxMessageBytes: 65535 }).data;
      let msg: SipMessage;
      try {
        msg = parseMessage(data);
      } catch {
        continue;
      }
      compared++;
      const where = `case ${i} of seed ${seed}`;
      assert.equal(
        outcome(() => msg.vias),
        outcome(() => reference(msg, H.Via, 'Via', true)),
        `Via, ${where}`,
      );
      assert.equal(
        outcome(() => msg.recordRoutes),
        outcome(() => reference(msg, H.RecordRoute, 'Record-Route', false)),
        `Record-Route, ${where}`,
      );
      assert.equal(
        outcome(() => msg.paths),
        outcome(() => reference(msg, H.Path, 'Path', false)),
        `Path, ${where}`,
      );
      const star = msg.findHeaderId(H.Contact) !== -1 && msg.header('Contact')?.trim() === '*';
      if (!star) {
        assert.equal(
          outcome(() => {
            const contact = msg.contact;
            return contact === undefined || contact.star ? [] : contact.addresses;
          }),
          outcome(() => reference(msg, H.Contact, 'Contact', false)),
          `Contact, ${where}`,
        );
      }
    }
    assert.ok(compared > 1000, `compared ${compared} messages`);
  });
});
