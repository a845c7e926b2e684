/**
 * Interop: three real phones (baresip) registered through sipwarden to a Kamailio proxying
 * registrar that keeps Path and record-routes (test/helpers/kamailio.ts, startKamailioProxy),
 * over UDP and over TCP, with topology hiding on (the defaults) and off (rows: common.ts).
 * Each case ends as a person would expect: the right phones rang, audio flowed both ways, and
 * no phone is left ringing or in a call. Kamailio relays every call between two phones, so each
 * request crosses sipwarden twice (out -> in, in -> out), and Kamailio cancels hop by hop: its
 * CANCEL carries its own Via only. With hiding on, everything sipwarden sent to the phones is
 * captured and scanned for the inside.
 *
 * Kamailio 127.107.0.10:35040 (UDP, TCP); the upstream's own services probe from
 * 127.107.0.11:35041. Rows use 127.106.1-5.x; phones use slots 0-4.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Capture } from '../helpers/capture.js';
import { type KamailioInstance, startKamailioProxy } from '../helpers/kamailio.js';
import { sipp } from '../helpers/sipp.js';
import type { SipwardenInstance } from '../helpers/sipwarden.js';
import { UdpPeer } from '../helpers/udp.js';
import {
  assertAudio,
  assertDirections,
  assertIdle,
  assertNothingInternal,
  audioGrows,
  type Baresip,
  captureOutside,
  DOMAIN,
  leftovers,
  probe,
  rows,
  SW_PORT,
  startEdge,
  startPhones,
  swAddress,
} from './common.js';

const KAM = '127.107.0.10';
const KAM_PORT = 35040;
const PROBE = '127.107.0.11';
const PROBE_PORT = 35041;

let kamailio: KamailioInstance;
let prober: UdpPeer;

before(async () => {
  kamailio = await startKamailioProxy({ ip: KAM, port: KAM_PORT, domain: DOMAIN });
  prober = await UdpPeer.bind(PROBE, PROBE_PORT);
});

after(async () => {
  prober?.close();
  await kamailio?.stop();
});

for (const row of rows(1)) {
  const slot = row.slot;
  describe(`interop through sipwarden to Kamailio (proxying registrar), ${row.name}`, () => {
    let sw: SipwardenInstance;
    let capture: Capture | undefined;
    let phones: Baresip[] = [];
    let alice: Baresip;
    let bob: Baresip;
    let carol: Baresip;

    before(async () => {
      if (row.hide) capture = await captureOutside(row);
      // Over TCP Kamailio opens its own connections to the Record-Route and Path URIs: sipwarden
      // takes only the connections it opened as the inside, unless the address is trusted.
      sw = await startEdge(row, `${row.upstream}://${KAM}:${KAM_PORT}`, row.upstream === 'tcp' ? [KAM] : []);
      phones = await startPhones(row, ['alice', 'bob', 'carol'], slot);
      [alice, bob, carol] = phones as [Baresip, Baresip, Baresip];
    });

    after(async () => {
      for (const p of phones) await p.stop();
      await sw?.stop();
    });

    // A failed case leaves no call behind for the next one.
    afterEach(async () => {
      await leftovers(phones, 0);
    });

    it('registers every phone; the registrar reaches each through the Path (OPTIONS from the upstream)', async () => {
      await Promise.all(phones.map((p) => p.event('REGISTER_OK')));
      for (const user of ['alice', 'bob', 'carol']) {
        assert.equal(await probe(prober, { host: KAM, port: KAM_PORT }, 'OPTIONS', `sip:${user}@${DOMAIN}`), 200);
      }
    });

    it('alice calls bob: audio both ways, hold and resume by re-INVITE, BYE from the caller', async () => {
      const [ma, mb] = [alice.mark(), bob.mark()];
      await alice.must('dial', `sip:bob@${DOMAIN}`);
      await bob.event('CALL_INCOMING', mb);
      await alice.event('CALL_RINGING', ma);
      await bob.must('accept');
      await Promise.all([alice.event('CALL_ESTABLISHED', ma), bob.event('CALL_ESTABLISHED', mb)]);
      await assertAudio(alice, bob, [ma, mb]);
      await alice.must('hold');
      await assertDirections([alice, bob], ['sendonly', 'recvonly']);
      const held = (await Promise.all([alice.audio(), bob.audio()])).map((s) => s.received);
      await alice.must('resume');
      await assertDirections([alice, bob], ['sendrecv', 'sendrecv']);
      await audioGrows([alice, bob], held);
      await alice.must('hangup');
      await bob.event('CALL_CLOSED', mb);
      await assertIdle(phones);
    });

    it('bob calls alice: audio both ways, hold and resume by the callee, BYE from the callee', async () => {
      const [ma, mb] = [alice.mark(), bob.mark()];
      await bob.must('dial', `sip:alice@${DOMAIN}`);
      await alice.event('CALL_INCOMING', ma);
      await alice.must('accept');
      await Promise.all([alice.event('CALL_ESTABLISHED', ma), bob.event('CALL_ESTABLISHED', mb)]);
      await assertAudio(bob, alice, [mb, ma]);
      await alice.must('hold');
      await assertDirections([alice, bob], ['sendonly', 'recvonly']);
      const held = (await Promise.all([alice.audio(), bob.audio()])).map((s) => s.received);
      await alice.must('resume');
      await assertDirections([alice, bob], ['sendrecv', 'sendrecv']);
      await audioGrows([alice, bob], held);
      await alice.must('hangup');
      const closed = await bob.event('CALL_CLOSED', mb);
      assert.match(closed.param ?? '', /reset by peer|terminated/i, 'bob saw the BYE');
      await assertIdle(phones);
    });

    // Kamailio cancels hop by hop: its CANCEL carries one Via, its INVITE carried the caller's too
    // (issue 14: sipwarden gave it another branch than the INVITE's; the phone answered 481).
    it('CANCEL of a ringing call by the caller (alice -> bob): bob stops ringing', async () => {
      const [ma, mb] = [alice.mark(), bob.mark()];
      await alice.must('dial', `sip:bob@${DOMAIN}`);
      await bob.event('CALL_INCOMING', mb);
      await alice.event('CALL_RINGING', ma);
      await alice.must('hangup');
      await bob.event('CALL_CLOSED', mb, undefined, 4000);
      await assertIdle(phones);
    });

    it('CANCEL of a ringing call from the other side (bob -> alice): alice stops ringing', async () => {
      const [ma, mb] = [alice.mark(), bob.mark()];
      await bob.must('dial', `sip:alice@${DOMAIN}`);
      await alice.event('CALL_INCOMING', ma);
      await bob.event('CALL_RINGING', mb);
      await bob.must('hangup');
      await alice.event('CALL_CLOSED', ma, undefined, 4000);
      await assertIdle(phones);
    });

    it('486: bob rejects the ringing call, alice is told', async () => {
      const [ma, mb] = [alice.mark(), bob.mark()];
      await alice.must('dial', `sip:bob@${DOMAIN}`);
      await bob.event('CALL_INCOMING', mb);
      await bob.must('hangup');
      const closed = await alice.event('CALL_CLOSED', ma);
      assert.match(closed.param ?? '', /^486 /);
      await assertIdle(phones);
    });

    it('603: the upstream declines, the caller is told', async () => {
      const ma = alice.mark();
      await alice.must('dial', `sip:decline@${DOMAIN}`);
      const closed = await alice.event('CALL_CLOSED', ma);
      assert.match(closed.param ?? '', /^603 /);
      await assertIdle(phones);
    });

    it('blind transfer: bob transfers alice to carol by REFER; alice and carol talk, bob is out', async () => {
      const [ma, mb, mc] = [alice.mark(), bob.mark(), carol.mark()];
      await alice.must('dial', `sip:bob@${DOMAIN}`);
      await bob.event('CALL_INCOMING', mb);
      await bob.must('accept');
      await Promise.all([alice.event('CALL_ESTABLISHED', ma), bob.event('CALL_ESTABLISHED', mb)]);
      const [ma2, mc2] = [alice.mark(), carol.mark()];
      await bob.must('transfer', `sip:carol@${DOMAIN}`);
      const transfer = await alice.event('TRANSFER', ma);
      assert.equal(transfer.param, `sip:carol@${DOMAIN}`);
      await carol.event('CALL_INCOMING', mc);
      await carol.must('accept');
      await Promise.all([alice.event('CALL_ESTABLISHED', ma2), carol.event('CALL_ESTABLISHED', mc2)]);
      await assertAudio(alice, carol, [ma2, mc2]);
      const closed = await bob.event('CALL_CLOSED', mb);
      assert.match(closed.param ?? '', /transfer/i, 'the transferor ends its call once the transfer succeeded');
      assert.deepEqual(await bob.calls(), []);
      assert.equal((await alice.calls()).length, 1, 'alice is left with the call to carol only');
      await alice.must('hangup');
      await carol.event('CALL_CLOSED', mc2);
      await assertIdle(phones);
    });

    it('MESSAGE from the upstream to a phone, and from the outside through the upstream to a phone', async () => {
      assert.equal(await probe(prober, { host: KAM, port: KAM_PORT }, 'MESSAGE', `sip:alice@${DOMAIN}`), 200);
      const pager = sipp({
        scenario: 'interop-message.xml',
        ip: `127.106.${row.net}.9`,
        port: 35090 + slot,
        remote: `${swAddress(row)}:${SW_PORT}`,
        transport: row.transport === 'tcp' ? 't1' : 'u1',
        calls: 1,
        timeoutSec: 10,
        extra: ['-s', 'bob'],
      });
      const r = await pager.result;
      assert.equal(r.successful, 1, r.output);
    });

    it('re-registers before expiry, then unregisters: the upstream no longer reaches the phone', async () => {
      // regint 5 s: baresip refreshed at least once during the cases above (else wait for it).
      await alice.event('REGISTER_OK', 0, () => alice.eventsOf('REGISTER_OK').length >= 2, 8000);
      const m = alice.mark();
      await alice.must('uadel', alice.aor);
      await alice.event('UNREGISTERING', m);
      const deadline = Date.now() + 3000;
      let status = 0;
      do {
        await new Promise((r) => setTimeout(r, 200));
        status = await probe(prober, { host: KAM, port: KAM_PORT }, 'OPTIONS', `sip:alice@${DOMAIN}`);
      } while (status !== 404 && Date.now() < deadline);
      assert.equal(status, 404, 'the binding is gone');
      assert.equal(await probe(prober, { host: KAM, port: KAM_PORT }, 'OPTIONS', `sip:bob@${DOMAIN}`), 200);
    });

    if (row.hide) {
      it('sent nothing internal to the phones (capture of everything sipwarden sent them)', async () => {
        const messages = await capture!.stopMessages();
        const n = assertNothingInternal(messages);
        assert.ok(n >= 60, `scanned ${n} messages`);
        // The scan looked at the right messages: Kamailio's Record-Route reached them sealed.
        assert.ok(
          messages.some((m) => /^Record-Route:[^\r\n]*;tr=[a-z2-7]{40,}/im.test(m.toString('latin1'))),
          'sealed Record-Route entries',
        );
      });
    }
  });
}
