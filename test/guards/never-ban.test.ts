/**
 * `guards.never_ban`: a UDP source address can be forged, so anyone can get any untrusted
 * address banned, a carrier trunk among them, by sending an attack in its name. A listed peer
 * is never banned by any guard (nor put in the firewall set, nor named in a fail2ban line),
 * but a message of it that a guard blocks is still dropped or answered as usual.
 *
 * Real sockets on loopback: sipwarden in front of a real Kamailio registrar; the attacks are
 * SIPVicious' own svmap probe (captured bytes), a flood, and password guesses.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROJECT_ROOT } from '../helpers/corpus.js';
import { type KamailioInstance, startKamailio } from '../helpers/kamailio.js';
import { waitFor } from '../helpers/process.js';
import type { ExchangePlan, ExchangeRequest, ExchangeResult } from '../helpers/sip-exchange.js';
import { type SipwardenInstance, startSipwarden } from '../helpers/sipwarden.js';
import { options, sleep, UdpPeer } from '../helpers/udp.js';
import { banLines, listBans } from '../watch/helpers.js';

const SW = { address: '127.102.1.1', port: 31200 };
const KAM = { address: '127.102.1.2', port: 31201 };
/** The trunk: listed in never_ban. */
const TRUNK = '127.102.1.10';
/** Anybody else. */
const OTHER = '127.102.1.11';
const EXCHANGE = join(PROJECT_ROOT, 'dist/test/helpers/sip-exchange.js');
const SVMAP = readFileSync(join(PROJECT_ROOT, 'test/fixtures/attacks/svmap-options.sip'));

/** A one-shot client process bound to `bind`: the status lines of each request. */
function exchange(bind: string, requests: ExchangeRequest[]): ExchangeResult {
  const plan: ExchangePlan = { bind, server: SW.address, port: SW.port, requests, waitMs: 2000 };
  const out = execFileSync(process.execPath, [EXCHANGE, JSON.stringify(plan)], { encoding: 'utf8', timeout: 20_000 });
  return JSON.parse(out) as ExchangeResult;
}

const CLEAN = { kind: 'options', user: '100', userAgent: 'Trunk SBC 4.2' } as const;

describe('guards.never_ban over real sockets', () => {
  let kam: KamailioInstance;
  let sw: SipwardenInstance;

  before(async () => {
    kam = await startKamailio({
      ip: KAM.address,
      port: KAM.port,
      users: [{ username: 'alice', password: 'alice-secret-1' }],
    });
    sw = await startSipwarden(
      [
        `listen: [udp://${SW.address}:${SW.port}]`,
        `upstreams: [{ name: pbx, targets: ["udp://${KAM.address}:${KAM.port}"], ping: false }]`,
        'guards:',
        `  never_ban: [${TRUNK}]`,
        '  flood: { window: 2s, max_messages: 20 }',
        // The registrar's 404 as it is (not normalised to 403): these tests tell answers apart.
        '  brute_force: { normalize_not_found: false }',
        '',
      ].join('\n'),
      { listeners: 1 },
    );
  });

  after(async () => {
    await sw?.stop();
    await kam?.stop();
  });

  it("a listed trunk's svmap probe is dropped but nobody is banned; its next good request passes", async () => {
    const trunk = await UdpPeer.bind(TRUNK, 31210);
    try {
      await trunk.send(SVMAP, SW.port, SW.address);
      await sleep(500);
      assert.equal(trunk.received.length, 0, 'the bad message got no answer: dropped');
      await waitFor(
        () => sw.logs().some((l) => l.msg === 'blocked; not banned (guards.never_ban)' && l.source === TRUNK),
        'the note in the log',
      );
      const line = sw.logs().find((l) => l.source === TRUNK && l.guard === 'scanner')!;
      assert.equal(line.action, 'drop');
      assert.equal(line.rule, 'user-agent');
      assert.equal(line.note, `not banned: ${TRUNK} is in guards.never_ban`);
      assert.equal(line.event, 'guard', 'not a ban line: fail2ban ignores it');
      assert.deepEqual(listBans(sw), []);
      assert.deepEqual(banLines(sw), []);
    } finally {
      trunk.close();
    }
    // Its next good request reaches the registrar, which answers it.
    assert.deepEqual(exchange(TRUNK, [CLEAN]), [['404 Not Found']]);
  });

  it('an unlisted source sending the same probe is banned, and its next good request is dropped', async () => {
    const other = await UdpPeer.bind(OTHER, 31211);
    try {
      await other.send(SVMAP, SW.port, SW.address);
      await waitFor(() => banLines(sw).length === 1, 'the ban line');
      assert.deepEqual(banLines(sw), [`Blocking traffic from ${OTHER} guard=scanner rule=user-agent for 3600s`]);
      assert.deepEqual(
        listBans(sw).map((b) => [b.target, b.guard]),
        [[OTHER, 'scanner']],
      );
    } finally {
      other.close();
    }
    assert.deepEqual(exchange(OTHER, [CLEAN]), [[]]);
  });

  it("a trunk's flood is dropped over the limit, never banned; afterwards it passes again", async () => {
    const trunk = await UdpPeer.bind(TRUNK, 31212);
    try {
      // 60 OPTIONS at once: 3 times guards.flood.max_messages (bounded).
      for (let i = 0; i < 60; i++) await trunk.send(options(TRUNK, 31212, `fl${i}`), SW.port, SW.address);
      await sleep(700);
      const answered = trunk.matching('SIP/2.0 404').length;
      assert.ok(answered >= 15 && answered <= 25, `${answered} answered: about max_messages pass, the rest dropped`);
      await waitFor(
        () => sw.logs().some((l) => l.guard === 'flood' && l.source === TRUNK && l.note !== undefined),
        'the flood note',
      );
    } finally {
      trunk.close();
    }
    assert.ok(!listBans(sw).some((b) => b.target === TRUNK));
    // Two windows: the sliding estimate still weighs the previous one (the next test must start clean).
    await sleep(4200);
    assert.deepEqual(exchange(TRUNK, [CLEAN]), [['404 Not Found']]);
  });

  it('password guesses from the trunk are answered 403 Try later at the limit, never banned', () => {
    const guess = { kind: 'register-guess', user: 'alice', password: 'guess-1234' } as const;
    const r = exchange(TRUNK, [guess, guess, guess, guess]);
    assert.deepEqual(r, [
      ['401 Unauthorized', '401 Unauthorized'],
      ['401 Unauthorized', '401 Unauthorized'],
      ['401 Unauthorized', '403 Try later'],
      ['401 Unauthorized', '401 Unauthorized'],
    ]);
    assert.ok(!listBans(sw).some((b) => b.target === TRUNK));
  });
});
