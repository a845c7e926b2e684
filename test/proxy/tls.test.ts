import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sipp } from '../helpers/sipp.js';
import { startSipwarden } from '../helpers/sipwarden.js';
import { makeCert, request, StreamUa } from '../helpers/ua.js';

describe('proxy: TLS outside, UDP inside', () => {
  it('a phone over TLS calls a sipp UAS behind sipwarden over UDP', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const certs = makeCert(mkdtempSync(join(tmpdir(), 'sipwarden-cert-')));
    const sw = await startSipwarden(
      `listen:
  - url: tls://127.0.0.1:15561
    cert: ${certs.cert}
    key: ${certs.key}
  - udp://127.0.0.1:15560
upstreams:
  - name: pbx
    targets: [udp://127.0.0.1:15570]
    ping: false
`,
      { listeners: 2 },
    );
    const uas = sipp({ scenario: 'uas-call.xml', ip: '127.0.0.1', port: 15570, calls: 1 });
    // A reliable transport outside means the phone never retransmits, and a stateless proxy
    // does not either: the UAS must be listening before the INVITE crosses to UDP.
    await new Promise((r) => setTimeout(r, 400));
    const ua = await StreamUa.connect({ tls: true, host: '127.0.0.1', port: 15561, localAddress: '127.0.0.2' });
    const me = `127.0.0.2:${ua.localPort}`;
    const common = (cseq: string) => [
      `Via: SIP/2.0/TLS ${me};branch=z9hG4bK-tls-${cseq.replace(' ', '')};rport`,
      'Max-Forwards: 70',
      `From: <sip:alice@127.0.0.2>;tag=a1`,
      'Call-ID: tls-call-1@127.0.0.2',
      `CSeq: ${cseq}`,
      `Contact: <sip:alice@${me};transport=tls>`,
    ];
    const sdp = 'v=0\r\no=a 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n';
    ua.send(
      request(
        [
          'INVITE sip:service@127.0.0.1:15561;transport=tls SIP/2.0',
          ...common('1 INVITE'),
          'To: <sip:service@127.0.0.1>',
          'Content-Type: application/sdp',
        ],
        sdp,
      ),
    );
    const ok = await ua.next((m) => m.status === 200 && m.cseq.method === 'INVITE');
    // Transport changes (TLS outside, UDP inside): sipwarden Record-Routes twice, but with
    // topology hiding the phone sees only the entry naming the TLS listener; the UDP one
    // travels sealed in its `tr` parameter.
    const rr = ok.recordRoutes;
    assert.equal(rr.length, 1, 'one Record-Route entry outside');
    assert.equal(rr[0]!.uri.port, 15561);
    assert.equal(rr[0]!.uri.params.get('transport'), 'tls');
    assert.match(String(rr[0]!.uri.params.get('tr')), /^[a-z][a-z2-7]+$/);
    assert.doesNotMatch(ok.header('Record-Route') ?? '', /15560/, 'the UDP listener stays hidden');
    assert.equal(ok.vias.length, 1, 'sipwarden removed its own Via');
    // Route set of the caller: the Record-Route list reversed (RFC 3261 12.1.2).
    const routes = rr
      .slice()
      .reverse()
      .map((r) => `Route: <${r.uriText}>`);
    const contact = ok.contact;
    assert.ok(contact && !contact.star);
    const target = contact.addresses[0]!.uriText;
    const to = `To: ${ok.header('To')}`;
    ua.send(request([`ACK ${target} SIP/2.0`, ...routes, ...common('1 ACK'), to]));
    await new Promise((r) => setTimeout(r, 100));
    ua.send(request([`BYE ${target} SIP/2.0`, ...routes, ...common('2 BYE'), to]));
    const byeOk = await ua.next((m) => m.status === 200 && m.cseq.method === 'BYE');
    assert.equal(byeOk.callId, 'tls-call-1@127.0.0.2');
    const u = await uas.result;
    assert.equal(u.successful, 1, u.output);
    ua.close();
    assert.equal(await sw.stop(), 0);
  });
});
