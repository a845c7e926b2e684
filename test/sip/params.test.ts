import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Params, parseCSeq, parseNameAddr, SipParseError, unescapeUri } from '../../src/index.js';
import { parseParams } from '../../src/sip/params.js';
import { firstElementEnd, splitList } from '../../src/sip/split.js';

const any = (s: string, a: number, b: number) => b > a && s.slice(a, b).indexOf(';') === -1;

describe('Params', () => {
  it('keeps insertion order, lower-cases names, tells flags from values', () => {
    const p = new Params();
    p.set('Branch', 'z9hG4bK1');
    p.set('rport', null);
    p.set('BRANCH', 'z9hG4bK2');
    assert.equal(p.size, 2);
    assert.equal(p.get('branch'), 'z9hG4bK2');
    assert.equal(p.get('RPort'), null);
    assert.equal(p.get('nope'), undefined);
    assert.deepEqual(
      [...p.entries()],
      [
        ['branch', 'z9hG4bK2'],
        ['rport', null],
      ],
    );
    assert.equal(p.toString(), ';branch=z9hG4bK2;rport');
    p.delete('BRANCH');
    assert.equal(p.toString(), ';rport');
    assert.equal(p.has('branch'), false);
  });

  it('add refuses a name already present, any case, however many there are', () => {
    const p = new Params();
    for (let i = 0; i < 100; i++) assert.equal(p.add(`p${i}`, String(i)), true);
    assert.equal(p.add('P7', 'again'), false);
    assert.equal(p.add('p99', null), false);
    assert.equal(p.get('p7'), '7');
    p.delete('p7');
    assert.equal(p.add('p7', 'new'), true, 'deleted names can come back');
    p.set('p200', 'x');
    assert.equal(p.add('p200', 'y'), false, 'set names are known to add');
    assert.equal(p.size, 101);
  });

  it('serialises to JSON without prototype surprises', () => {
    const s = ';__proto__=x;constructor;tag=1';
    const p = parseParams(s, 0, s.length, 'From', any, any);
    const json = JSON.parse(JSON.stringify(p)) as Record<string, unknown>;
    assert.equal(json.tag, '1');
    assert.equal(Object.getPrototypeOf(p.toJSON()), Object.prototype);
    assert.equal(p.get('__proto__'), 'x');
  });
});

describe('parseParams', () => {
  it('rejects a repeated parameter, also far down a long list', () => {
    const list = Array.from({ length: 50 }, (_, i) => `;p${i}=${i}`).join('');
    assert.equal(parseParams(list, 0, list.length, 'Via', any, any).size, 50);
    assert.throws(() => parseParams(`${list};P3=x`, 0, list.length + 5, 'Via', any, any), SipParseError);
  });

  it('stays linear on thousands of parameters', () => {
    const n = 50_000;
    const list = Array.from({ length: n }, (_, i) => `;p${i}`).join('');
    const t0 = performance.now();
    const p = parseParams(list, 0, list.length, 'Via', any, any);
    const ms = performance.now() - t0;
    assert.equal(p.size, n);
    assert.ok(ms < 500, `${n} parameters took ${ms.toFixed(0)} ms`);
  });

  it('stays linear on long list headers parsed element by element', () => {
    // Each element is parsed within [a, b) of the whole line: no search may run to its end.
    const line = Array.from({ length: 20_000 }, () => '<sip:h.example.com>').join(',');
    const t0 = performance.now();
    let n = 0;
    for (const [a, b] of splitList(line)) n += parseNameAddr(line, a, b, 'Route').uri.host.length;
    const ms = performance.now() - t0;
    assert.equal(n, 20_000 * 'h.example.com'.length);
    assert.ok(ms < 1000, `20000 Route entries took ${ms.toFixed(0)} ms`);
  });
});

describe('splitList and firstElementEnd', () => {
  it('split at commas outside quotes and angle brackets, trimmed', () => {
    const s = ' "a,\\"b" <sip:x;y=1,2>;q=1 , <sip:z> ,';
    assert.deepEqual(
      splitList(s).map(([a, b]) => s.slice(a, b)),
      ['"a,\\"b" <sip:x;y=1,2>;q=1', '<sip:z>', ''],
    );
    assert.equal(firstElementEnd(s), s.indexOf(' , <sip:z>') + 1);
    assert.equal(firstElementEnd('<sip:a,b>'), 9);
    assert.equal(firstElementEnd('a, b', 1, 4), 1);
  });
});

describe('scalars and escapes', () => {
  it('parseCSeq', () => {
    assert.deepEqual(parseCSeq(' 0009 INVITE '), { seq: 9, method: 'INVITE' });
    assert.deepEqual(parseCSeq('2147483647\tBYE'), { seq: 2147483647, method: 'BYE' });
    for (const bad of ['', 'INVITE', '1', '1 ', '-1 INVITE', '2147483648 INVITE', '1 INV ITE', '1 INV@']) {
      assert.throws(() => parseCSeq(bad), SipParseError, JSON.stringify(bad));
    }
  });

  it('unescapeUri decodes UTF-8 escapes and leaves bad ones', () => {
    assert.equal(unescapeUri('sips%3Auser%40example.com'), 'sips:user@example.com');
    assert.equal(unescapeUri('Zo%C3%AB'), 'Zoë');
    assert.equal(unescapeUri('a%zzb%4'), 'a%zzb%4');
    assert.equal(unescapeUri('%FF%41'), '\xffA', 'invalid UTF-8 falls back to octets');
    assert.equal(unescapeUri('plain'), 'plain');
  });
});
