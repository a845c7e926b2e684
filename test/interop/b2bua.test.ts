/**
 * Interop with a B2BUA-like upstream: a real phone (baresip) registered through sipwarden to a
 * PBX played by sipp (test/fixtures/sipp/interop-pbx*.xml). Unlike a proxy, a B2BUA ends every
 * call leg itself: each of its requests carries its own Via only (its INVITE and its CANCEL
 * alike), its Call-IDs and Contacts are its own (sealed with hiding on), and it transfers the
 * phone to its own inside address. Cases run both ways: the phone calls the PBX, the PBX
 * (its outbound leg, a second sipp at the PBX's address) calls the phone through the Path of its
 * registration. With hiding on, everything sent to the phone is captured and scanned.
 *
 * PBX 127.107.0.20: 35060 (UAS, RTP echo 36950), 35061 (UAC and probes, RTP echo 36960).
 * Rows use 127.106.6-9.x; phones use slots 5-8.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import type { Capture } from '../helpers/capture.js';
import type { Running } from '../helpers/process.js';
import { sipp } from '../helpers/sipp.js';
import type { SipwardenInstance } from '../helpers/sipwarden.js';
import { UdpPeer } from '../helpers/udp.js';
import {
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

const PBX = '127.107.0.20';
const PBX_PORT = 35060;
const PBX_OUT_PORT = 35061;

/** What must not reach the phone: the PBX's address and port, and its banner. */
const INSIDE = [/127\.107\./, /:35060\b/, /internal-pbx/i];

/** The REGISTER requests the PBX received, as text (sipp's message trace). */
function registers(traceFile: string): string[] {
  let text = '';
  try {
    text = readFileSync(traceFile, 'latin1');
  } catch {
    return [];
  }
  return text.split(/\n(?=REGISTER sip:)/).filter((t) => t.startsWith('REGISTER sip:'));
}

for (const row of rows(6).filter((r) => r.upstream === 'udp')) {
  describe(`interop through sipwarden to a B2BUA-like PBX (sipp), ${row.name}`, () => {
    let sw: SipwardenInstance;
    let capture: Capture | undefined;
    let pbx: Running;
    let trace: string;
    let errors: string;
    let alice: Baresip;
    let phones: Baresip[] = [];
    /** The phone's Contact and the Path of its registration, as the PBX saw them. */
    let binding: { contact: string; path: string };

    /** Runs the PBX's outbound leg (a sipp UAC) to the phone; resolves with its result. */
    const pbxCalls = (scenario: string) =>
      sipp({
        scenario,
        ip: PBX,
        port: PBX_OUT_PORT,
        remote: `${swAddress(row)}:${SW_PORT}`,
        calls: 1,
        timeoutSec: 15,
        extra: [
          '-s',
          'alice',
          '-key',
          'target',
          binding.contact,
          '-key',
          'route',
          binding.path,
          '-mi',
          PBX,
          '-mp',
          '36960',
          '-rtp_echo',
        ],
      }).result;

    /** Calls of the PBX that sipp aborted (an unexpected message, a timeout) since the case began. */
    let errorsBefore = 0;
    const allErrors = () => {
      try {
        return readFileSync(errors, 'latin1')
          .split(/(?=\d{4}-\d\d-\d\d\t)/)
          .filter((l) => /Aborting|unexpected|timeout/i.test(l));
      } catch {
        return [];
      }
    };
    const pbxErrors = () => allErrors().slice(errorsBefore);

    before(async () => {
      if (row.hide) capture = await captureOutside(row);
      // The PBX's outbound leg has a SIP port of its own: a second upstream, so that what the
      // phone sends within those calls (to its Contact) may reach it.
      sw = await startEdge(row, [`udp://${PBX}:${PBX_PORT}`, `udp://${PBX}:${PBX_OUT_PORT}`]);
      trace = join(sw.dir, 'pbx-messages.log');
      errors = join(sw.dir, 'pbx-errors.log');
      pbx = sipp({
        scenario: 'interop-pbx.xml',
        ip: PBX,
        port: PBX_PORT,
        calls: 1000,
        timeoutSec: 180,
        extra: [
          '-aa',
          '-mi',
          PBX,
          '-mp',
          '36950',
          '-rtp_echo',
          '-trace_msg',
          '-message_file',
          trace,
          '-trace_err',
          '-error_file',
          errors,
        ],
      }).run;
      await new Promise((r) => setTimeout(r, 300));
      phones = await startPhones(row, ['alice'], row.slot + 5);
      [alice] = phones as [Baresip];
    });

    after(async () => {
      for (const p of phones) await p.stop();
      pbx?.signal('SIGTERM');
      await pbx?.exited;
      await sw?.stop();
    });

    beforeEach(() => {
      errorsBefore = allErrors().length;
    });

    afterEach(async () => {
      await leftovers(phones, 0);
    });

    it('registers through sipwarden: the PBX gets the REGISTER with a Path to sipwarden', async () => {
      await alice.event('REGISTER_OK');
      const last = registers(trace).at(-1);
      assert.ok(last, 'the PBX received a REGISTER');
      const path = /^Path:\s*<([^>]+)>/m.exec(last)?.[1];
      const contact = /^Contact:\s*<([^>]+)>/m.exec(last)?.[1];
      assert.ok(path?.includes(`@${swAddress(row)}:${SW_PORT}`), `Path to sipwarden: ${path}`);
      assert.ok(contact, 'Contact');
      binding = { contact, path: path! };
    });

    it('the phone calls the PBX: audio, hold and resume by re-INVITE, BYE from the phone', async () => {
      const m = alice.mark();
      await alice.must('dial', `sip:echo@${DOMAIN}`);
      await alice.event('CALL_ESTABLISHED', m);
      await alice.event('CALL_RTPESTAB', m);
      await audioGrows([alice], [0]);
      await alice.must('hold');
      await assertDirections([alice], ['sendonly']);
      const held = (await alice.audio()).received;
      await alice.must('resume');
      await assertDirections([alice], ['sendrecv']);
      await audioGrows([alice], [held]);
      await alice.must('hangup');
      await assertIdle(phones);
      assert.deepEqual(pbxErrors(), []);
    });

    it('the phone calls the PBX, the PBX ends the call (BYE from the PBX)', async () => {
      const m = alice.mark();
      await alice.must('dial', `sip:hangup@${DOMAIN}`);
      await alice.event('CALL_ESTABLISHED', m);
      const closed = await alice.event('CALL_CLOSED', m);
      assert.match(closed.param ?? '', /reset by peer|terminated/i);
      await assertIdle(phones);
      assert.deepEqual(pbxErrors(), []);
    });

    it('the PBX calls the phone: audio, the phone holds and resumes, BYE from the phone', async () => {
      const m = alice.mark();
      const call = pbxCalls('interop-pbx-call.xml');
      await alice.event('CALL_INCOMING', m);
      await alice.must('accept');
      await alice.event('CALL_ESTABLISHED', m);
      await alice.event('CALL_RTPESTAB', m);
      await audioGrows([alice], [0]);
      await alice.must('hold');
      await assertDirections([alice], ['sendonly']);
      await alice.must('resume');
      await assertDirections([alice], ['sendrecv']);
      await alice.must('hangup');
      const r = await call;
      assert.equal(r.successful, 1, r.output);
      await assertIdle(phones);
    });

    it('the PBX calls the phone and ends the call (BYE from the PBX)', async () => {
      const m = alice.mark();
      const call = pbxCalls('interop-pbx-call-bye.xml');
      await alice.event('CALL_INCOMING', m);
      await alice.must('accept');
      await alice.event('CALL_ESTABLISHED', m);
      await alice.event('CALL_CLOSED', m);
      const r = await call;
      assert.equal(r.successful, 1, r.output);
      await assertIdle(phones);
    });

    it('CANCEL of a ringing call by the phone: the PBX stops ringing', async () => {
      const m = alice.mark();
      await alice.must('dial', `sip:ring@${DOMAIN}`);
      await alice.event('CALL_RINGING', m);
      await alice.must('hangup');
      await assertIdle(phones);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(pbxErrors(), [], 'the PBX got the CANCEL and the ACK of its 487');
    });

    it('CANCEL of a ringing call by the PBX: the phone stops ringing', async () => {
      const m = alice.mark();
      const call = pbxCalls('interop-pbx-cancel.xml');
      await alice.event('CALL_INCOMING', m);
      const closed = await alice.event('CALL_CLOSED', m);
      assert.ok(closed, 'the phone stopped ringing');
      const r = await call;
      assert.equal(r.successful, 1, r.output);
      await assertIdle(phones);
    });

    it('486 and 603 from the PBX reach the phone; the phone rejects the PBX with 486', async () => {
      let m = alice.mark();
      await alice.must('dial', `sip:busy@${DOMAIN}`);
      assert.match((await alice.event('CALL_CLOSED', m)).param ?? '', /^486 /);
      m = alice.mark();
      await alice.must('dial', `sip:decline@${DOMAIN}`);
      assert.match((await alice.event('CALL_CLOSED', m)).param ?? '', /^603 /);
      m = alice.mark();
      const call = pbxCalls('interop-pbx-rejected.xml');
      await alice.event('CALL_INCOMING', m);
      await alice.must('hangup');
      const r = await call;
      assert.equal(r.successful, 1, r.output);
      await assertIdle(phones);
      assert.deepEqual(pbxErrors(), []);
    });

    it('blind transfer by the PBX: REFER to its own inside address, the phone calls it and talks', async () => {
      const m = alice.mark();
      await alice.must('dial', `sip:transfer@${DOMAIN}`);
      await alice.event('CALL_ESTABLISHED', m);
      const transfer = await alice.event('TRANSFER', m);
      const target = (transfer.param ?? '').replace(/^<(.*)>$/, '$1');
      if (row.hide) {
        // The inside address left sealed, as a Contact: sip:<token>@sipwarden.
        assert.doesNotMatch(target, /127\.107\./);
        const own = `${swAddress(row).replace(/\./g, '\\.')}:${SW_PORT}`;
        assert.match(target, new RegExp(`^sip:[a-z2-7]+@${own}(;transport=tcp)?$`));
      } else {
        assert.equal(target, `sip:echo@${PBX}:${PBX_PORT}`);
      }
      // The new call reaches the PBX (the sealed URI opened again) and is answered.
      await alice.event('CALL_ESTABLISHED', m, (e) => e.param === target);
      await alice.event('CALL_RTPESTAB', m, (e) => e.id !== undefined && e.id !== transfer.id);
      await alice.event('CALL_CLOSED', m);
      assert.equal((await alice.calls()).length, 1, 'the transferred call goes on');
      await alice.must('hangup');
      await assertIdle(phones);
      assert.deepEqual(pbxErrors(), []);
    });

    it('blind transfer by the phone: REFER to the PBX, its sipfrag NOTIFY ends the call', async () => {
      const m = alice.mark();
      await alice.must('dial', `sip:transferee@${DOMAIN}`);
      await alice.event('CALL_ESTABLISHED', m);
      await alice.must('transfer', `sip:echo@${DOMAIN}`);
      const closed = await alice.event('CALL_CLOSED', m);
      assert.match(closed.param ?? '', /transfer/i, 'the phone read the sipfrag: transfer done');
      await assertIdle(phones);
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(pbxErrors(), []);
    });

    it('OPTIONS and MESSAGE from the PBX reach the phone; a MESSAGE from the outside reaches the PBX', async () => {
      const to = { host: swAddress(row), port: SW_PORT };
      const route = [`Route: <${binding.path}>`];
      const prober = await UdpPeer.bind(PBX, PBX_OUT_PORT);
      try {
        assert.equal(await probe(prober, to, 'OPTIONS', binding.contact, route), 200);
        assert.equal(await probe(prober, to, 'MESSAGE', binding.contact, route), 200);
      } finally {
        prober.close();
      }
      const pager = sipp({
        scenario: 'interop-message.xml',
        ip: `127.106.${row.net}.9`,
        port: 35095 + row.slot,
        remote: `${swAddress(row)}:${SW_PORT}`,
        transport: row.transport === 'tcp' ? 't1' : 'u1',
        calls: 1,
        timeoutSec: 10,
        extra: ['-s', 'voicemail'],
      });
      const r = await pager.result;
      assert.equal(r.successful, 1, r.output);
    });

    it('re-registers before expiry, then unregisters (expires=0 reaches the PBX)', async () => {
      await alice.event('REGISTER_OK', 0, () => alice.eventsOf('REGISTER_OK').length >= 2, 8000);
      assert.ok(registers(trace).length >= 2, 'the PBX saw the refresh');
      const m = alice.mark();
      await alice.must('uadel', alice.aor);
      await alice.event('UNREGISTERING', m);
      // baresip asks for it in the Contact's expires parameter.
      const unregister = /^Expires:\s*0\s*$|^Contact:.*;expires=0\b/im;
      const deadline = Date.now() + 3000;
      while (!unregister.test(registers(trace).at(-1) ?? '') && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.match(registers(trace).at(-1) ?? '', unregister);
    });

    if (row.hide) {
      it('sent nothing internal to the phone (capture of everything sipwarden sent it)', async () => {
        const messages = await capture!.stopMessages();
        const n = assertNothingInternal(messages, INSIDE);
        assert.ok(n >= 40, `scanned ${n} messages`);
        // The scan looked at the right messages: the PBX's sipfrag reached the phone cut short.
        const frag = messages
          .map((m) => m.toString('latin1'))
          .find((t) => t.startsWith('NOTIFY ') && /message\/sipfrag/i.test(t));
        assert.ok(frag, 'the NOTIFY with the sipfrag');
        assert.ok(frag.endsWith('\r\n\r\nSIP/2.0 200 OK\r\n'), frag);
      });
    }
  });
}
