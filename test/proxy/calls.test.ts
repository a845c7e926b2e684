import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assertCalls, sipp } from '../helpers/sipp.js';
import { startSipwarden } from '../helpers/sipwarden.js';

/**
 * Real calls through sipwarden with sipp on both sides. The upstream (sipp UAS) is
 * 127.0.0.1, the only inside address; callers use other 127.x addresses, as phones on
 * the internet would.
 */
describe('proxy: calls through sipwarden with sipp', () => {
  it('INVITE/100/180/200/ACK/BYE over UDP', async () => {
    const sw = await startSipwarden(
      'listen: [udp://127.0.0.1:15060]\nupstreams:\n  - name: pbx\n    targets: [udp://127.0.0.1:15070]\n    ping: false\n',
      { listeners: 1 },
    );
    await assertCalls(
      { scenario: 'uas-call.xml', ip: '127.0.0.1', port: 15070, calls: 10 },
      {
        scenario: 'uac-call.xml',
        ip: '127.0.0.2',
        port: 15090,
        remote: '127.0.0.1:15060',
        calls: 10,
        rate: 20,
      },
    );
    assert.equal(await sw.stop(), 0);
  });

  it('INVITE/ACK/BYE over TCP on both sides', async () => {
    const sw = await startSipwarden(
      'listen: [tcp://127.0.0.1:15160]\nupstreams:\n  - name: pbx\n    targets: [tcp://127.0.0.1:15170]\n    ping: false\n',
      { listeners: 1 },
    );
    await assertCalls(
      { scenario: 'uas-call.xml', ip: '127.0.0.1', port: 15170, calls: 5, transport: 't1' },
      {
        scenario: 'uac-call.xml',
        ip: '127.0.0.2',
        port: 15190,
        remote: '127.0.0.1:15160',
        calls: 5,
        rate: 10,
        transport: 't1',
      },
    );
    assert.equal(await sw.stop(), 0);
  });

  it('a call over IPv6 loopback', async () => {
    const sw = await startSipwarden(
      'listen: ["udp://[::1]:15260"]\nupstreams:\n  - name: pbx\n    targets: ["udp://[::1]:15270"]\n    ping: false\n',
      { listeners: 1 },
    );
    // Inside and outside share ::1 (the only IPv6 loopback address): over UDP the upstream
    // is recognised by address and port, so the UAC on another port is outside.
    await assertCalls(
      { scenario: 'uas-call.xml', ip: '::1', port: 15270, calls: 3 },
      { scenario: 'uac-call.xml', ip: '::1', port: 15290, remote: '[::1]:15260', calls: 3, rate: 10 },
    );
    assert.equal(await sw.stop(), 0);
  });

  it('CANCEL of a ringing call: 200 for the CANCEL, 487 for the INVITE, ACK', async () => {
    const sw = await startSipwarden(
      'listen: [udp://127.0.0.1:15360]\nupstreams:\n  - name: pbx\n    targets: [udp://127.0.0.1:15370]\n    ping: false\n',
      { listeners: 1 },
    );
    await assertCalls(
      { scenario: 'uas-ringing.xml', ip: '127.0.0.1', port: 15370, calls: 3 },
      {
        scenario: 'uac-cancel.xml',
        ip: '127.0.0.2',
        port: 15390,
        remote: '127.0.0.1:15360',
        calls: 3,
        rate: 10,
      },
    );
    assert.equal(await sw.stop(), 0);
  });

  it('REGISTER gets a Path; the registrar then calls the phone through sipwarden', async () => {
    const sw = await startSipwarden(
      'listen: [udp://127.0.0.1:15460]\nupstreams:\n  - name: pbx\n    targets: [udp://127.0.0.1:15470]\n    ping: false\n',
      { listeners: 1 },
    );
    // The registrar fails the REGISTER (403) unless it carries a Path header.
    const registrarLog = join(sw.dir, 'registrar.msg');
    const registrar = sipp({
      scenario: 'uas-registrar.xml',
      ip: '127.0.0.1',
      port: 15470,
      calls: 1,
      extra: ['-trace_msg', '-message_file', registrarLog],
    });
    const phone = sipp({
      scenario: 'uac-register.xml',
      ip: '127.0.0.3',
      port: 15490,
      remote: '127.0.0.1:15460',
      calls: 1,
    });
    const [r, p] = await Promise.all([registrar.result, phone.result]);
    assert.equal(p.successful, 1, p.output);
    assert.equal(r.successful, 1, r.output);
    const path = /^Path:\s*(<sip:[^>]+>)/m.exec(readFileSync(registrarLog, 'utf8'))?.[1];
    assert.ok(path, 'the registrar saw a Path header');
    assert.match(path, /@127\.0\.0\.1:15460;lr>$/);

    // Now the inside (the upstream's address and port) calls the phone's contact with the
    // Path as its Route.
    const csv = join(sw.dir, 'route.csv');
    // sipp splits injection fields at ';': pass the URI alone, the scenario adds ';lr'.
    writeFileSync(csv, `SEQUENTIAL\n${path.slice(1, -1).replace(/;lr$/, '')}\n`);
    const phoneUas = sipp({ scenario: 'uas-call.xml', ip: '127.0.0.3', port: 15490, calls: 1 });
    const pbx = sipp({
      scenario: 'uac-call-routed.xml',
      ip: '127.0.0.1',
      port: 15470,
      remote: '127.0.0.3:15490',
      calls: 1,
      extra: ['-rsa', '127.0.0.1:15460', '-inf', csv],
    });
    const [c, d] = await Promise.all([pbx.result, phoneUas.result]);
    assert.equal(c.failed, 0, c.output);
    assert.equal(c.successful, 1, c.output);
    assert.equal(d.successful, 1, d.output);
    assert.equal(await sw.stop(), 0);
  });
});
