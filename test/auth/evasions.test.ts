import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { captureLoopback } from '../helpers/capture.js';
import { type KamailioInstance, startKamailio } from '../helpers/kamailio.js';
import { waitFor } from '../helpers/process.js';
import { type SipwardenInstance, startSipwarden } from '../helpers/sipwarden.js';
import { sleep, UdpPeer } from '../helpers/udp.js';
import { type Challenge, digestResponse, type Response, SipClient, Upstream } from './client.js';

/**
 * Edge-auth evasions (issue 16, items 2-4) sent for real through bin/sipwarden run:
 * claiming another user's identity, made-up To tags, credentials replayed to another
 * destination. 127.103.2-4.x, ports 32200-32499.
 */

const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

const instances: SipwardenInstance[] = [];
let kamailio: KamailioInstance | undefined;
after(async () => {
  for (const sw of instances) if (sw.run.proc.exitCode === null) await sw.stop();
  await kamailio?.stop();
});

function usersFile(entries: Array<[string, string, string]>): string {
  return entries
    .flatMap(([user, realm, password]) => [
      `${user}:${realm}:${md5(`${user}:${realm}:${password}`)}`,
      `${user}:${realm}:sha-256:${sha256(`${user}:${realm}:${password}`)}`,
    ])
    .join('\n');
}

async function sipwarden(
  listen: string,
  upstream: string,
  auth: string,
  users: string,
  chain = '[acl, bans, flood, scanner, sanity, auth]',
): Promise<SipwardenInstance> {
  const dir = mkdtempSync(join(tmpdir(), 'sipwarden-evasions-'));
  writeFileSync(join(dir, 'users.txt'), `${users}\n`);
  const sw = await startSipwarden(
    [
      'log:\n  level: debug',
      `listen: [udp://${listen}]`,
      `upstreams:\n  - name: pbx\n    targets: [udp://${upstream}]\n    ping: false`,
      'guards:',
      `  chain: ${chain}`,
      '  auth:',
      `    users_file: ${dir}/users.txt`,
      ...auth
        .trim()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => `    ${l}`),
      '',
    ].join('\n'),
    { listeners: 1, dir },
  );
  instances.push(sw);
  return sw;
}

interface Req {
  method: string;
  ruri: string;
  from: string;
  to: string;
  fromTag?: string;
  toTag?: string;
  callId: string;
  cseq: number;
  branch: string;
  lines?: string[];
}

/** A request from `c` as a phone writes it (From/To are `user@host` or full URIs). */
function request(c: SipClient, r: Req): string {
  const uri = (s: string) => (s.includes(':') ? s : `sip:${s}`);
  return [
    `${r.method} ${r.ruri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${c.address}:${c.port};branch=z9hG4bK${r.branch};rport`,
    `From: <${uri(r.from)}>;tag=${r.fromTag ?? `f${r.callId}`}`,
    `To: <${uri(r.to)}>${r.toTag === undefined ? '' : `;tag=${r.toTag}`}`,
    `Call-ID: ${r.callId}`,
    `CSeq: ${r.cseq} ${r.method}`,
    `Contact: <sip:${c.address}:${c.port}>`,
    'Max-Forwards: 70',
    ...(r.lines ?? []),
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/** Credentials answering `ch` for `uri` (qop=auth). */
function creds(
  ch: Challenge,
  o: { username: string; password: string; method: string; uri: string; nc: number; cnonce?: string },
): string {
  const nc = o.nc.toString(16).padStart(8, '0');
  const cnonce = o.cnonce ?? randomBytes(6).toString('hex');
  const response = digestResponse({ ...o, algorithm: ch.algorithm, realm: ch.realm, nonce: ch.nonce, nc, cnonce });
  const name = ch.header.toLowerCase() === 'www-authenticate' ? 'Authorization' : 'Proxy-Authorization';
  return (
    `${name}: Digest username="${o.username}", realm="${ch.realm}", nonce="${ch.nonce}", uri="${o.uri}", ` +
    `response="${response}", algorithm=${ch.algorithm}, qop=auth, nc=${nc}, cnonce="${cnonce}"`
  );
}

function md5Challenge(r: Response | undefined, realm: string): Challenge {
  const c = r?.challenges.find((x) => x.realm === realm && x.algorithm === 'MD5');
  assert.ok(c, `an MD5 challenge for ${realm} in ${r?.text}`);
  return c;
}

describe('edge auth binds the authenticated user to the identity it claims (issue 16, item 2)', () => {
  it('REGISTER To: bob with alice credentials is refused at the edge; Kamailio would have registered it', async () => {
    kamailio = await startKamailio({
      ip: '127.103.2.1',
      port: 32200,
      users: [
        { username: 'alice', password: 'alice-pbx-secret' },
        { username: 'bob', password: 'bob-pbx-secret' },
      ],
    });
    const users = usersFile([['alice', 'sipwarden', 'wonderland']]);
    const chain = '[acl, bans, flood, scanner, sanity, brute_force, auth]';
    const sw = await sipwarden('127.103.2.2:32201', '127.103.2.1:32200', '', users, chain);
    await sipwarden('127.103.2.2:32202', '127.103.2.1:32200', 'identity: {check: false}', users, chain);
    const phone = await SipClient.open('127.103.2.10', 32210, { address: '127.103.2.2', port: 32201 });
    const mallory = await SipClient.open('127.103.2.11', 32211, { address: '127.103.2.2', port: 32202 });

    /**
     * REGISTER `to` from `c` through both challenges (sipwarden's realm, then Kamailio's):
     * the status of each answer in order.
     */
    const register = async (c: SipClient, to: string, id: string): Promise<number[]> => {
      const ruri = c.uri();
      const base = { method: 'REGISTER', ruri, from: `alice@${c.address}`, to: `${to}@${c.address}`, callId: id };
      const statuses: number[] = [];
      const first = await c.send(request(c, { ...base, cseq: 1, branch: `${id}1` }));
      statuses.push(first?.status ?? 0);
      const edge = md5Challenge(first, 'sipwarden');
      const edgeCreds = (nc: number) =>
        creds(edge, { username: 'alice', password: 'wonderland', method: 'REGISTER', uri: ruri, nc });
      // Three times only sipwarden's credentials: the registrar's challenge is no failed guess.
      let pbx: Challenge | undefined;
      for (let nc = 1; nc <= 3; nc++) {
        const r = await c.send(request(c, { ...base, cseq: 1 + nc, branch: `${id}${1 + nc}`, lines: [edgeCreds(nc)] }));
        statuses.push(r?.status ?? 0);
        if (r?.status !== 401) return statuses;
        pbx = md5Challenge(r, 'sipwarden.test');
      }
      const both = [
        edgeCreds(4),
        creds(pbx!, { username: 'alice', password: 'alice-pbx-secret', method: 'REGISTER', uri: ruri, nc: 1 }),
      ];
      const last = await c.send(request(c, { ...base, cseq: 5, branch: `${id}5`, lines: both }));
      statuses.push(last?.status ?? 0);
      return statuses;
    };

    try {
      assert.deepEqual(await register(phone, 'alice', 'reg-a'), [401, 401, 401, 401, 200], 'alice registers');
      assert.deepEqual(banLines(sw), [], "the registrar's challenges counted as no failure");

      // With the identity check off, Kamailio (auth_check flag 0) registers bob for alice.
      assert.deepEqual(await register(mallory, 'bob', 'reg-m'), [401, 401, 401, 401, 200]);

      // With it (the default), sipwarden refuses the REGISTER as soon as alice authenticates.
      const capture = await captureLoopback('udp and dst host 127.103.2.1 and dst port 32200');
      const refused = await register(phone, 'bob', 'reg-b');
      const reached = (await capture.stop()).map((p) => p.toString('latin1'));
      assert.deepEqual(refused, [401, 403]);
      assert.ok(!reached.some((p) => /^To: <sip:bob@/m.test(p)), 'the REGISTER for bob never reached Kamailio');
      await waitFor(() => sw.logs().some((l) => l.guard === 'auth' && l.rule === 'identity'), 'the identity event');
      const event = sw.logs().find((l) => l.guard === 'auth' && l.rule === 'identity')!;
      assert.equal(event.detail, 'alice');
      assert.equal(event.action, 'reply');
      assert.deepEqual(banLines(sw), [], 'the right password is no guess');
    } finally {
      phone.close();
      mallory.close();
    }
  });

  it('the From of other requests is checked too, aliases and anonymous callers pass', async () => {
    const upstream = await Upstream.open('127.103.2.1', 32220);
    await sipwarden(
      '127.103.2.2:32221',
      '127.103.2.1:32220',
      'identity: { aliases: { alice: ["1001"] } }',
      usersFile([['alice', 'sipwarden', 'wonderland']]),
    );
    const c = await SipClient.open('127.103.2.12', 32222, { address: '127.103.2.2', port: 32221 });
    let n = 0;
    const call = async (from: string): Promise<number> => {
      const id = `inv${++n}`;
      const ruri = `sip:200@${c.address}`;
      const base = { method: 'INVITE', ruri, from, to: `200@${c.address}`, callId: id };
      const ch = md5Challenge(await c.send(request(c, { ...base, cseq: 1, branch: `${id}a` })), 'sipwarden');
      const auth = creds(ch, { username: 'alice', password: 'wonderland', method: 'INVITE', uri: ruri, nc: 1 });
      return (await c.send(request(c, { ...base, cseq: 2, branch: `${id}b`, lines: [auth] })))?.status ?? 0;
    };
    try {
      assert.equal(await call(`alice@${c.address}`), 200);
      assert.equal(await call(`1001@${c.address}`), 200, 'an alias');
      assert.equal(await call(`%61lice@${c.address}`), 200, 'the user %-decoded');
      assert.equal(await call('anonymous@anonymous.invalid'), 200, 'RFC 3323 anonymous');
      assert.equal(await call(`bob@${c.address}`), 403);
      assert.equal(await call(`Alice@${c.address}`), 403, 'the user part is case-sensitive');
      assert.equal(await call(`tel:1002`), 403);
      assert.equal(upstream.requests.length, 4);
    } finally {
      c.close();
      upstream.close();
    }
  });

  it('the realm is the one configured for the claimed domain, not chosen by the From of a REGISTER', async () => {
    const upstream = await Upstream.open('127.103.2.1', 32230);
    await sipwarden(
      '127.103.2.2:32231',
      '127.103.2.1:32230',
      'realms: { a.test: realm-a, b.test: realm-b }',
      usersFile([['alice', 'realm-a', 'wonderland']]),
    );
    const c = await SipClient.open('127.103.2.13', 32232, { address: '127.103.2.2', port: 32231 });
    const ruri = c.uri();
    try {
      // alice of a.test registers an AOR of b.test, naming a.test in From: challenged for realm-b.
      const base = { method: 'REGISTER', ruri, from: 'alice@a.test', to: 'alice@b.test', callId: 'realm1' };
      const first = await c.send(request(c, { ...base, cseq: 1, branch: 'r1' }));
      assert.equal(first?.status, 401);
      assert.deepEqual([...new Set(first.challenges.map((x) => x.realm))], ['realm-b']);
      // Her realm-a credentials (computed on a realm-a nonce) do not open b.test.
      const own = await c.send(request(c, { ...base, to: 'alice@a.test', callId: 'realm0', cseq: 1, branch: 'r0' }));
      const realmA = md5Challenge(own, 'realm-a');
      const auth = creds(realmA, { username: 'alice', password: 'wonderland', method: 'REGISTER', uri: ruri, nc: 1 });
      const other = await c.send(request(c, { ...base, cseq: 2, branch: 'r2', lines: [auth] }));
      assert.equal(other?.status, 401);
      assert.equal(upstream.requests.length, 0);
      // For her own domain they do.
      const mine = await c.send(
        request(c, { ...base, to: 'alice@a.test', callId: 'realm0', cseq: 2, branch: 'r3', lines: [auth] }),
      );
      assert.equal(mine?.status, 200);
      assert.equal(upstream.requests.length, 1);
    } finally {
      c.close();
      upstream.close();
    }
  });
});

/**
 * A stand-in PBX: answers every request 200 as a UAS does (To tag, Record-Route copied, its
 * Contact), records them, and can place a call itself.
 */
class Pbx {
  private constructor(readonly peer: UdpPeer) {
    peer.socket.on('message', (m, r) => {
      const text = m.toString('latin1');
      if (!/^[A-Z]+ /.test(text) || text.startsWith('ACK ')) return;
      const keep = text.split('\r\n').filter((l) => /^(Via|From|To|Call-ID|CSeq|Record-Route):/i.test(l));
      const reply = [
        'SIP/2.0 200 OK',
        ...keep.map((l) => (/^To:/i.test(l) && !/tag=/.test(l) ? `${l};tag=pbx${text.length}` : l)),
        `Contact: <sip:pbx@${peer.socket.address().address}:${peer.port}>`,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      peer.socket.send(reply, r.port, r.address);
    });
  }

  static async open(address: string, port: number): Promise<Pbx> {
    return new Pbx(await UdpPeer.bind(address, port));
  }

  get requests(): string[] {
    return this.peer.received.map((r) => r.data).filter((d) => /^[A-Z]+ /.test(d));
  }

  close(): void {
    this.peer.close();
  }
}

function header(text: string, name: string): string[] {
  return [...text.matchAll(new RegExp(`^${name}:\\s*(.*)$`, 'gim'))].map((m) => m[1]!.trim());
}

function uriOf(nameAddr: string): string {
  return /<([^>]+)>/.exec(nameAddr)?.[1] ?? nameAddr;
}

describe('in-dialog requests skip the challenge only in a dialog sipwarden saw (issue 16, item 3)', () => {
  it('made-up To tags are challenged; a real call and a PBX call go on in-dialog without one', async () => {
    const pbx = await Pbx.open('127.103.3.1', 32300);
    const sw = await sipwarden(
      '127.103.3.2:32301',
      '127.103.3.1:32300',
      '',
      usersFile([['alice', 'sipwarden', 'wonderland']]),
    );
    const server = { address: '127.103.3.2', port: 32301 };
    const phone = await SipClient.open('127.103.3.10', 32310, server);
    const other = await SipClient.open('127.103.3.11', 32311, server);
    const me = `alice@${phone.address}`;
    try {
      // Requests that create no dialog, with a made-up To tag: challenged, never forwarded.
      for (const method of ['REGISTER', 'MESSAGE', 'PUBLISH', 'INVITE', 'SUBSCRIBE', 'REFER']) {
        const r = await phone.send(
          request(phone, {
            method,
            ruri: method === 'REGISTER' ? phone.uri() : `sip:200@${phone.address}`,
            from: me,
            to: method === 'REGISTER' ? me : `200@${phone.address}`,
            toTag: 'made-up-1',
            callId: `forged-${method}`,
            cseq: 1,
            branch: `forged${method}`,
          }),
        );
        assert.equal(r?.status, method === 'REGISTER' ? 401 : 407, `${method} with a made-up To tag`);
      }
      assert.equal(pbx.requests.length, 0);
      const forged = sw.logs().filter((l) => l.guard === 'auth' && l.rule === 'unknown-dialog');
      assert.equal(forged.length, 6, 'each is an event (unknown-dialog)');

      // A real call: challenged INVITE, then with credentials; the PBX answers 200.
      const ruri = `sip:200@${phone.address}`;
      const call = { method: 'INVITE', ruri, from: me, to: `200@${phone.address}`, callId: 'call-1' };
      const ch = md5Challenge(await phone.send(request(phone, { ...call, cseq: 1, branch: 'c1' })), 'sipwarden');
      const auth = creds(ch, { username: 'alice', password: 'wonderland', method: 'INVITE', uri: ruri, nc: 1 });
      const ok = await phone.send(request(phone, { ...call, cseq: 2, branch: 'c2', lines: [auth] }));
      assert.equal(ok?.status, 200);
      // The UAC's route set is the Record-Route reversed (RFC 3261 12.1.2); the target its Contact.
      const route = header(ok.text, 'Record-Route').reverse();
      assert.ok(route.length > 0, 'sipwarden record-routed the call');
      const toTag = /;tag=([^;\s]+)/.exec(header(ok.text, 'To')[0]!)![1]!;
      const target = uriOf(header(ok.text, 'Contact')[0]!);
      const inDialog = (c: SipClient, method: string, cseq: number, over: Partial<Req> = {}) =>
        c.send(
          request(c, {
            ...call,
            method,
            ruri: target,
            toTag,
            cseq,
            branch: `d${method}${cseq}${c.port}`,
            lines: route.map((r) => `Route: ${r}`),
            ...over,
          }),
        );
      const before = pbx.requests.length;
      assert.equal((await inDialog(phone, 'INVITE', 3))?.status, 200, 'a re-INVITE passes');
      assert.equal((await inDialog(phone, 'MESSAGE', 4))?.status, 200, 'an in-dialog MESSAGE passes');
      assert.equal((await inDialog(phone, 'BYE', 5))?.status, 200);
      assert.equal(pbx.requests.length, before + 3);

      // sipwarden's Route does not open another dialog, nor serve another source, nor a REGISTER.
      assert.equal((await inDialog(phone, 'INVITE', 6, { callId: 'call-made-up' }))?.status, 407);
      assert.equal((await inDialog(phone, 'INVITE', 7, { toTag: 'pbx-made-up' }))?.status, 407);
      assert.equal((await inDialog(other, 'INVITE', 8))?.status, 407, 'the dialog from another address');
      assert.equal(
        (await inDialog(phone, 'REGISTER', 9, { ruri: phone.uri(), to: me }))?.status,
        401,
        'a REGISTER never belongs to a dialog',
      );
      assert.equal((await inDialog(phone, 'INVITE', 10, { lines: [] }))?.status, 407, 'without the Route');
      assert.equal(pbx.requests.length, before + 3);

      // The PBX calls the phone (through the Path of its registration); the phone's re-INVITE in that dialog passes.
      const reg = { method: 'REGISTER', ruri: phone.uri(), from: me, to: me, callId: 'reg-1' };
      const rch = md5Challenge(await phone.send(request(phone, { ...reg, cseq: 1, branch: 'g1' })), 'sipwarden');
      const rauth = creds(rch, {
        username: 'alice',
        password: 'wonderland',
        method: 'REGISTER',
        uri: phone.uri(),
        nc: 1,
      });
      assert.equal((await phone.send(request(phone, { ...reg, cseq: 2, branch: 'g2', lines: [rauth] })))?.status, 200);
      const path = header(pbx.requests.find((r) => r.startsWith('REGISTER '))!, 'Path')[0]!;
      const seen = phone.peer.received.length;
      const invite = [
        `INVITE sip:alice@${phone.address}:${phone.port} SIP/2.0`,
        'Via: SIP/2.0/UDP 127.103.3.1:32300;branch=z9hG4bKpbxcall1',
        'From: <sip:300@127.103.3.1>;tag=pbxtag1',
        `To: <sip:alice@${phone.address}>`,
        'Call-ID: pbx-call-1@127.103.3.1',
        'CSeq: 1 INVITE',
        `Route: ${path}`,
        'Contact: <sip:300@127.103.3.1:32300>',
        'Max-Forwards: 70',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      await pbx.peer.send(invite, 32301, '127.103.3.2');
      await waitFor(() => phone.peer.received.slice(seen).some((r) => r.data.startsWith('INVITE ')), 'the call');
      const got = phone.peer.received.slice(seen).find((r) => r.data.startsWith('INVITE '))!.data;
      const answer = [
        'SIP/2.0 200 OK',
        ...got.split('\r\n').filter((l) => /^(Via|From|Call-ID|CSeq|Record-Route):/i.test(l)),
        `${header(got, 'To').map((t) => `To: ${t}`)[0]};tag=phonetag1`,
        `Contact: <sip:alice@${phone.address}:${phone.port}>`,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      await phone.peer.send(answer, 32301, '127.103.3.2');
      await sleep(200);
      // The callee's route set is the Record-Route as received; the target the caller's Contact.
      const theirs = {
        method: 'INVITE',
        ruri: uriOf(header(got, 'Contact')[0]!),
        from: `alice@${phone.address}`,
        fromTag: 'phonetag1',
        to: uriOf(header(got, 'From')[0]!),
        toTag: 'pbxtag1',
        callId: header(got, 'Call-ID')[0]!,
        lines: header(got, 'Record-Route').map((r) => `Route: ${r}`),
      };
      const reinvite = await phone.send(request(phone, { ...theirs, cseq: 1, branch: 'p1' }));
      assert.equal(reinvite?.status, 200, "a re-INVITE in the PBX's call passes");
      const forgedTag = await phone.send(request(phone, { ...theirs, toTag: 'pbxtag2', cseq: 2, branch: 'p2' }));
      assert.equal(forgedTag?.status, 407);
    } finally {
      phone.close();
      other.close();
      pbx.close();
    }
  });
});

describe('captured credentials cannot be aimed at another destination (issue 16, item 4)', () => {
  it('a changed Request-URI is refused, equivalent forms are not, the replay fingerprint covers the Request-URI', async () => {
    const upstream = await Upstream.open('127.103.4.1', 32400);
    const sw = await sipwarden(
      '127.103.4.2:32401',
      '127.103.4.1:32400',
      '',
      usersFile([['alice', 'sipwarden', 'wonderland']]),
    );
    const server = { address: '127.103.4.2', port: 32401 };
    const victim = await SipClient.open('127.103.4.10', 32410, server);
    // Behind the same NAT: the same address, another port.
    const attacker = await SipClient.open('127.103.4.10', 32411, server);
    const ruri = 'sip:100@127.103.4.2:32401';
    const call = { method: 'INVITE', from: `alice@${victim.address}`, to: '100@127.103.4.2', callId: 'victim-1' };
    try {
      const ch = md5Challenge(
        await victim.send(request(victim, { ...call, ruri, cseq: 1, branch: 'v1' })),
        'sipwarden',
      );
      const auth = creds(ch, {
        username: 'alice',
        password: 'wonderland',
        method: 'INVITE',
        uri: ruri,
        nc: 1,
        cnonce: 'cn1',
      });
      const original = request(victim, { ...call, ruri, cseq: 2, branch: 'v2', lines: [auth] });
      assert.equal((await victim.send(original))?.status, 200);
      assert.equal(upstream.requests.length, 1);

      // The attacker copies Call-ID, CSeq, Via branch and the credentials, and dials a premium number.
      const toll = 'sip:00900123456@127.103.4.2:32401';
      const aimed = original.replace(`INVITE ${ruri} SIP/2.0`, `INVITE ${toll} SIP/2.0`);
      const refused = await attacker.send(aimed);
      assert.equal(refused?.status, 400, refused?.text);
      // Changing the digest uri as well breaks the response: a wrong password.
      const rewritten = aimed.replace(`uri="${ruri}"`, `uri="${toll}"`);
      assert.equal((await attacker.send(rewritten))?.status, 407);
      assert.equal(upstream.requests.length, 1, 'nothing reached the PBX');

      // The victim's retransmission passes again; the same nc with the Request-URI written
      // otherwise (equivalent, so the uri check passes) is not the same request: a replay.
      assert.equal((await victim.send(original))?.status, 200);
      const variant = original.replace(`INVITE ${ruri} SIP/2.0`, `INVITE ${ruri};x-tracking=1 SIP/2.0`);
      const replay = await attacker.send(variant);
      assert.equal(replay?.status, 407);
      assert.ok(replay.challenges.every((x) => !x.stale));
      assert.equal(upstream.requests.length, 2);

      // A client writing its uri in an equivalent form is not refused (RFC 3261 19.1.4).
      const equivalent = creds(ch, {
        username: 'alice',
        password: 'wonderland',
        method: 'INVITE',
        uri: 'sip:%31%30%30@127.103.4.2:32401',
        nc: 2,
      });
      const ok = await victim.send(
        request(victim, {
          ...call,
          callId: 'victim-2',
          ruri: `${ruri};transport=udp`,
          cseq: 1,
          branch: 'v3',
          lines: [equivalent],
        }),
      );
      assert.equal(ok?.status, 200);
      assert.equal(upstream.requests.length, 3);
      await waitFor(() => sw.logs().some((l) => l.guard === 'auth' && l.rule === 'uri-mismatch'), 'the event');
      assert.ok(sw.logs().some((l) => l.guard === 'auth' && l.rule === 'replay'));
    } finally {
      victim.close();
      attacker.close();
      upstream.close();
    }
  });
});

function banLines(sw: SipwardenInstance): string[] {
  return sw
    .logs()
    .filter((l) => l.event === 'ban')
    .map((l) => String(l.msg));
}

describe('per-user fraud limits count the user sipwarden authenticated, not a decoy', () => {
  it('a Digest decoy for a realm nobody checks does not move calls to another user', async () => {
    const upstream = await Upstream.open('127.108.3.1', 37320);
    const dir = mkdtempSync(join(tmpdir(), 'sipwarden-evasions-'));
    writeFileSync(join(dir, 'users.txt'), `${usersFile([['alice', 'sipwarden', 'wonderland']])}\n`);
    const sw = await startSipwarden(
      [
        'listen: [udp://127.108.3.2:37321]',
        'upstreams:\n  - name: pbx\n    targets: [udp://127.108.3.1:37320]\n    ping: false',
        'guards:',
        '  chain: [acl, bans, flood, scanner, sanity, auth, fraud]',
        `  auth: { users_file: ${dir}/users.txt }`,
        '  fraud: { calls_per_minute: { block: 2 } }',
        '',
      ].join('\n'),
      { listeners: 1, dir },
    );
    instances.push(sw);
    const c = await SipClient.open('127.108.3.12', 37322, { address: '127.108.3.2', port: 37321 });
    const statuses: number[] = [];
    try {
      for (let i = 1; i <= 4; i++) {
        const id = `decoy-fraud-${i}`;
        const ruri = `sip:2000${i}@${c.address}`;
        const base = { method: 'INVITE', ruri, from: `alice@${c.address}`, to: `2000${i}@${c.address}`, callId: id };
        const ch = md5Challenge(await c.send(request(c, { ...base, cseq: 1, branch: `${id}a` })), 'sipwarden');
        const auth = creds(ch, { username: 'alice', password: 'wonderland', method: 'INVITE', uri: ruri, nc: 1 });
        // A second set of credentials, for a realm sipwarden does not check, with a fresh username each call.
        const decoy = `Proxy-Authorization: Digest username="u${randomBytes(4).toString('hex')}", realm="elsewhere", nonce="n", uri="${ruri}", response="${'0'.repeat(32)}"`;
        const r = await c.send(request(c, { ...base, cseq: 2, branch: `${id}b`, lines: [decoy, auth] }));
        statuses.push(r?.status ?? 0);
      }
      // Two calls a minute for alice: the third and fourth are refused, whatever the decoy says.
      assert.deepEqual(statuses, [200, 200, 403, 403]);
    } finally {
      c.close();
      upstream.close();
    }
  });
});
