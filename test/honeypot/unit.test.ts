import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BanPolicy } from '../../src/guards/ban-policy.js';
import type { HoneypotConfig } from '../../src/honeypot/config.js';
import { csvCell, recordsCsv } from '../../src/honeypot/export.js';
import { Honeypot } from '../../src/honeypot/honeypot.js';
import { MAX_USERNAMES, MemoryAttackStore, type Observation } from '../../src/honeypot/records.js';
import { SqliteAttackStore } from '../../src/honeypot/records-sqlite.js';
import { sdpAnswer } from '../../src/honeypot/sdp.js';
import type { Destination, ListenerInfo, Peer } from '../../src/net/peer.js';
import { parseMessage } from '../../src/sip/parser.js';

const CONFIG: HoneypotConfig = {
  enabled: true,
  server: 'Asterisk PBX 18.20.0',
  realm: 'asterisk',
  callDuration: 0,
  amplificationFactor: 3,
  repliesPerSecond: 1000,
  maxRecords: 100,
  forward: undefined,
};
const LISTENER: ListenerInfo = {
  index: 0,
  transport: 'udp',
  address: '0.0.0.0',
  port: 18000,
  family: 4,
  sipHost: '198.51.100.10',
  sipPort: 5060,
};
const SILENT = { debug() {}, info() {}, warn() {} };

/** A honeypot whose sends are captured (the responder's output, after the reflection bound). */
function honeypot(config: Partial<HoneypotConfig> = {}) {
  const sent: Array<{ to: Destination; text: string }> = [];
  const records = new MemoryAttackStore(100);
  const hp = new Honeypot(
    { ...CONFIG, ...config },
    1000,
    { listeners: [LISTENER], send: (to, data) => sent.push({ to, text: data.toString('latin1') }) > 0 },
    records,
    SILENT,
    BanPolicy.DEFAULT,
  );
  return { hp, sent, records };
}

function peer(address = '203.0.113.5', transport: Peer['transport'] = 'udp'): Peer {
  return { transport, address, port: 5062, family: 4, listener: 0, connId: 0 };
}

function request(method: string, extra: string[] = [], opts: { to?: string; body?: string; cseq?: number } = {}) {
  const body = opts.body ?? '';
  const text = [
    `${method} sip:0044123@198.51.100.10 SIP/2.0`,
    'Via: SIP/2.0/UDP 203.0.113.5:5062;branch=z9hG4bK1;rport',
    'From: <sip:1001@198.51.100.10>;tag=a1',
    `To: ${opts.to ?? '<sip:0044123@198.51.100.10>'}`,
    'Call-ID: c1@203.0.113.5',
    `CSeq: ${opts.cseq ?? 1} ${method}`,
    'Max-Forwards: 70',
    'Contact: <sip:1001@203.0.113.5:5062>',
    'User-Agent: friendly-scanner',
    ...extra,
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
  return parseMessage(Buffer.from(text, 'latin1'));
}

function take(hp: Honeypot, msg: ReturnType<typeof request>, p = peer()): boolean {
  return hp.take(msg, p, msg.end - msg.start + 2000, 'scanner', 'user-agent');
}

describe('honeypot responder', () => {
  it('OPTIONS: 200 with Allow, Accept, Supported and the banner; parses; nothing internal', () => {
    const { hp, sent } = honeypot();
    take(hp, request('OPTIONS'));
    assert.equal(sent.length, 1);
    const m = parseMessage(Buffer.from(sent[0]!.text, 'latin1'));
    assert.equal(m.status, 200);
    assert.match(m.header('Allow')!, /INVITE/);
    assert.ok(m.header('Accept'));
    assert.ok(m.header('Supported'));
    assert.equal(m.server, 'Asterisk PBX 18.20.0');
    assert.match(m.to.tag!, /^as[0-9a-f]{8}$/);
  });

  it('server none: no Server header', () => {
    const { hp, sent } = honeypot({ server: undefined });
    take(hp, request('OPTIONS'));
    assert.doesNotMatch(sent[0]!.text, /Server:/);
  });

  it('REGISTER: 401 with a per-source nonce, then 200 with the contact and a bounded expires', () => {
    const { hp, sent } = honeypot();
    take(hp, request('REGISTER', ['Expires: 7200']));
    const challenge = parseMessage(Buffer.from(sent[0]!.text, 'latin1'));
    assert.equal(challenge.status, 401);
    const auth = challenge.wwwAuthenticate!;
    assert.equal(auth.realm, 'asterisk');
    take(hp, request('REGISTER', ['Expires: 7200']));
    assert.equal(parseMessage(Buffer.from(sent[1]!.text, 'latin1')).wwwAuthenticate?.nonce, auth.nonce);
    const creds = `Authorization: Digest username="1001", realm="asterisk", nonce="${auth.nonce}", uri="sip:x", response="00"`;
    take(hp, request('REGISTER', ['Expires: 7200', creds], { cseq: 2 }));
    const ok = sent[2]!.text;
    assert.match(ok, /^SIP\/2\.0 200 OK/);
    assert.match(ok, /^Contact: <sip:1001@203\.0\.113\.5:5062>;expires=3600\r$/m);
    // Another source's nonce is not ours for this one: challenged again.
    take(hp, request('REGISTER', [creds], { cseq: 3 }), peer('203.0.113.6'));
    assert.match(sent[3]!.text, /^SIP\/2\.0 401/);
  });

  it('INVITE: 100, 180, then 200 with an SDP answer using PCMU and the listener address', async () => {
    const { hp, sent } = honeypot();
    const offer =
      'v=0\r\no=- 1 1 IN IP4 10.9.9.9\r\ns=-\r\nc=IN IP4 10.9.9.9\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18 8 0\r\nm=video 4002 RTP/AVP 96\r\n';
    take(hp, request('INVITE', ['Content-Type: application/sdp'], { body: offer }));
    assert.deepEqual(
      sent.map((s) => s.text.split('\r\n')[0]),
      ['SIP/2.0 100 Trying', 'SIP/2.0 180 Ringing'],
    );
    await new Promise((r) => setTimeout(r, 1000));
    const ok = parseMessage(Buffer.from(sent[2]!.text, 'latin1'));
    assert.equal(ok.status, 200);
    const sdp = ok.body.toString('latin1');
    assert.match(sdp, /^c=IN IP4 198\.51\.100\.10\r$/m);
    assert.match(sdp, /^m=audio \d+ RTP\/AVP 0\r$/m);
    assert.match(sdp, /^m=video 0 RTP\/AVP 96\r$/m);
    assert.equal(ok.to.tag, parseMessage(Buffer.from(sent[1]!.text, 'latin1')).to.tag);
    assert.match(ok.header('Contact')!, /^<sip:0044123@198\.51\.100\.10:5060>$/);
    hp.close();
  });

  it('CANCEL while ringing: 200 for the CANCEL and 487 for the INVITE', () => {
    const { hp, sent } = honeypot();
    take(hp, request('INVITE'));
    take(hp, request('CANCEL'));
    const lines = sent.map((s) => `${s.text.split('\r\n')[0]} ${/^CSeq: (.*)\r$/m.exec(s.text)![1]}`);
    assert.deepEqual(lines.slice(2), ['SIP/2.0 200 OK 1 CANCEL', 'SIP/2.0 487 Request Terminated 1 INVITE']);
    hp.close();
  });

  it('other methods', () => {
    const { hp, sent } = honeypot();
    for (const m of ['SUBSCRIBE', 'MESSAGE', 'INFO', 'NOTIFY', 'UPDATE', 'PRACK', 'REFER', 'BYE', 'FOO'])
      take(hp, request(m));
    assert.deepEqual(
      sent.map((s) => s.text.split('\r\n')[0]!.slice(8, 11)),
      ['200', '200', '200', '200', '200', '200', '202', '200', '501'],
    );
    assert.match(sent[0]!.text, /^Expires: \d+\r$/m);
  });

  it('ACK and responses are absorbed', () => {
    const { hp, sent } = honeypot();
    take(hp, request('ACK'));
    const response =
      'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\n' +
      'To: <sip:a@b>;tag=2\r\nCall-ID: x\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n';
    take(hp, parseMessage(Buffer.from(response, 'latin1')));
    assert.equal(sent.length, 0);
    assert.equal(hp.stats.absorbed, 2);
  });

  it('an ACK with our tag ends the call with our BYE after call_duration, sent to where the ACK came from', async () => {
    const { hp, sent } = honeypot({ callDuration: 100 });
    take(hp, request('OPTIONS'));
    const tag = parseMessage(Buffer.from(sent[0]!.text, 'latin1')).to.tag!;
    take(hp, request('ACK', [], { to: `<sip:0044123@198.51.100.10>;tag=${tag}` }));
    await new Promise((r) => setTimeout(r, 300));
    const bye = parseMessage(Buffer.from(sent[1]!.text, 'latin1'));
    assert.equal(bye.method, 'BYE');
    assert.equal(bye.requestUriText, 'sip:1001@203.0.113.5:5062');
    assert.equal(bye.from.tag, tag);
    assert.equal(sent[1]!.to.address, '203.0.113.5');
    hp.close();
  });

  it('the reflection bound: an unproven UDP source gets at most factor × its bytes; TCP is not bound', () => {
    const { hp, sent } = honeypot();
    const msg = request('OPTIONS');
    hp.take(msg, peer(), 100, 'scanner', 'user-agent'); // pretend 100 bytes: the answer is larger than 300
    assert.equal(sent.length, 0);
    assert.equal(hp.stats.reflectionRefused, 1);
    hp.take(msg, peer('203.0.113.9', 'tcp'), 100, 'scanner', 'user-agent');
    assert.equal(sent.length, 1);
  });

  it('the per-source rate limit', () => {
    const { hp, sent } = honeypot({ repliesPerSecond: 3 });
    for (let i = 0; i < 10; i++) take(hp, request('OPTIONS'));
    assert.equal(sent.length, 3);
    assert.equal(hp.stats.rateLimited, 7);
  });

  it('records what the source tried, held afterwards', () => {
    const { hp, records } = honeypot();
    take(
      hp,
      request('INVITE', [
        'Authorization: Digest username="admin\\r\\nx", realm="a", nonce="n", uri="sip:x", response="0"',
      ]),
    );
    const r = records.get('203.0.113.5')!;
    assert.deepEqual(r.numbers, ['0044123']);
    assert.ok(r.usernames.includes('1001'));
    assert.deepEqual(r.userAgents, ['friendly-scanner']);
    assert.deepEqual(r.reasons, ['scanner/user-agent']);
    assert.ok(hp.holds('203.0.113.5'));
    assert.ok(!hp.holds('203.0.113.77'));
    hp.close();
  });
});

describe('sdp answer', () => {
  it('answers PCMA when PCMU is not offered, IPv6 host, direction mirrored', () => {
    const sdp = sdpAnswer('v=0\r\nm=audio 4000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n', {
      host: '2001:db8::1',
      port: 12000,
      sessionId: '1',
      sessionName: 's',
    });
    assert.match(sdp, /^c=IN IP6 2001:db8::1\r$/m);
    assert.match(sdp, /^m=audio 12000 RTP\/AVP 8 101\r$/m);
    assert.match(sdp, /^a=recvonly\r$/m);
  });
  it('offers PCMU/PCMA when the INVITE had no SDP', () => {
    assert.match(
      sdpAnswer(undefined, { host: '192.0.2.1', port: 10000, sessionId: '1', sessionName: 's' }),
      /m=audio 10000 RTP\/AVP 0 8 101/,
    );
  });
});

function obs(address: string, time: number, extra: Partial<Observation> = {}): Observation {
  return {
    address,
    time,
    method: 'INVITE',
    userAgent: 'x',
    usernames: ['u'],
    number: '1',
    reason: 'scanner/user-agent',
    ...extra,
  };
}

describe('attack records', () => {
  it('memory: bounded, oldest last-seen evicted first', () => {
    const s = new MemoryAttackStore(3);
    s.note(obs('192.0.2.1', 1));
    s.note(obs('192.0.2.2', 2));
    s.note(obs('192.0.2.3', 3));
    s.note(obs('192.0.2.1', 4)); // seen again: now the youngest
    s.note(obs('192.0.2.4', 5));
    assert.deepEqual(
      s.list().map((r) => r.address),
      ['192.0.2.4', '192.0.2.1', '192.0.2.3'],
    );
  });

  it('bounded distinct lists, sanitized and cut text', () => {
    const s = new MemoryAttackStore(3);
    for (let i = 0; i < MAX_USERNAMES + 50; i++) s.note(obs('192.0.2.1', i, { usernames: [`user${i}`] }));
    s.note(obs('192.0.2.1', 1, { userAgent: `evil\r\nforged: line ${'A'.repeat(500)}` }));
    const r = s.get('192.0.2.1')!;
    assert.equal(r.usernames.length, MAX_USERNAMES);
    assert.equal(r.requests, MAX_USERNAMES + 51);
    const ua = r.userAgents[1]!;
    assert.ok(!/[\r\n]/.test(ua) && ua.length <= 128, ua);
    assert.match(ua, /^evil\\x0d\\x0aforged/);
  });

  it('sqlite: written in batches, merged across flushes and restarts, trimmed to max_records', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'sipwarden-attacks-')), 'attacks.db');
    let s = new SqliteAttackStore(file, { maxRecords: 2 });
    s.note(obs('192.0.2.1', 1000, { usernames: ['a'] }));
    s.note(obs('192.0.2.1', 2000, { usernames: ['b'], method: 'REGISTER' }));
    s.close();
    s = new SqliteAttackStore(file, { maxRecords: 2 });
    s.note(obs('192.0.2.1', 3000, { usernames: ['c'] }));
    s.note(obs('192.0.2.2', 2500));
    s.note(obs('192.0.2.3', 4000));
    s.flush();
    assert.deepEqual(
      s.list().map((r) => r.address),
      ['192.0.2.3', '192.0.2.1'],
    );
    const r = s.get('192.0.2.1')!;
    assert.deepEqual(r.usernames, ['a', 'b', 'c']);
    assert.deepEqual(r.methods, { INVITE: 2, REGISTER: 1 });
    assert.equal(r.firstSeen, 1000);
    assert.equal(r.lastSeen, 3000);
    s.close();
  });

  it('CSV: quoted cells, formula injection neutralised', () => {
    assert.equal(csvCell('plain'), 'plain');
    assert.equal(csvCell('a,b'), '"a,b"');
    assert.equal(csvCell('say "hi"'), '"say ""hi"""');
    assert.equal(csvCell('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
    assert.equal(csvCell('+4930123'), "'+4930123");
    assert.equal(csvCell('-1'), "'-1");
    assert.equal(csvCell('@SUM(A1)'), "'@SUM(A1)");
    const s = new MemoryAttackStore(3);
    s.note(obs('192.0.2.1', 0, { userAgent: '=cmd|calc', usernames: ['a,b'] }));
    const csv = recordsCsv(s.list());
    assert.match(csv, /,'=cmd\|calc,"a,b",1,scanner\/user-agent\r\n$/);
  });
});
