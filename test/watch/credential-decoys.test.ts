import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type Challenge, SipClient, Upstream } from '../auth/client.js';
import { captureLoopback } from '../helpers/capture.js';
import { type KamailioInstance, startKamailio } from '../helpers/kamailio.js';
import { waitFor } from '../helpers/process.js';
import { type SipwardenInstance, startSipwarden } from '../helpers/sipwarden.js';
import { banLines } from './helpers.js';

/**
 * Decoy credentials (issue 16, item 1): a request carrying a `Basic` header, or Digest
 * credentials with a made-up username in a made-up realm, in front of the real Digest guess.
 * The registrar picks credentials by realm and checks the real guess; sipwarden must not take
 * the request for one without credentials, nor count the failure for the decoy's username.
 * Against a real Kamailio registrar (auth_db), on 127.103.1.x, ports 32100-32149.
 */

const KAMAILIO = { address: '127.103.1.1', port: 32100 };
const PBX_REALM = 'sipwarden.test';
/** A Basic header that decodes (SIP's credentials grammar has auth-params, no token68: RFC 3261 25.1). */
const BASIC_DECOY = 'Authorization: Basic realm="sipwarden.test", decoy="ZGVjb3k6ZGVjb3k="';

let kamailio: KamailioInstance | undefined;
const instances: SipwardenInstance[] = [];
after(async () => {
  for (const sw of instances) if (sw.run.proc.exitCode === null) await sw.stop();
  await kamailio?.stop();
});

async function registrar(): Promise<KamailioInstance> {
  kamailio ??= await startKamailio({
    ip: KAMAILIO.address,
    port: KAMAILIO.port,
    users: [{ username: 'alice', password: 'alice-secret-1' }],
  });
  return kamailio;
}

async function sipwarden(port: number, guards = ''): Promise<SipwardenInstance> {
  const sw = await startSipwarden(
    `listen: [udp://127.103.1.2:${port}]\n` +
      `upstreams:\n  - name: pbx\n    targets: [udp://${KAMAILIO.address}:${KAMAILIO.port}]\n    ping: false\n` +
      'log: {level: debug}\n' +
      guards,
    { listeners: 1 },
  );
  instances.push(sw);
  return sw;
}

/** A Digest line with a made-up username in a made-up realm: what a registrar ignores. */
function digestDecoy(n: number): string {
  return (
    `Authorization: Digest username="decoy${n}x${Date.now() % 100000}", realm="decoy.invalid", ` +
    `nonce="n${n}", uri="sip:decoy.invalid", response="00000000000000000000000000000000"`
  );
}

let seq = 0;

/**
 * One guess: a REGISTER without credentials (the registrar's challenge), then the REGISTER with
 * `decoy` and Digest credentials for `password` (decoy first, or after when `decoyAfter`).
 * Returns the status of the second answer, 0 when none came, or undefined when the first got none.
 */
async function guess(
  client: SipClient,
  password: string,
  decoy: string | undefined,
  decoyAfter = false,
): Promise<number | undefined> {
  const callId = `dc${++seq}-${client.address}`;
  const first = await client.send(
    client.request({ method: 'REGISTER', user: 'alice', callId, cseq: 1, branch: `dc${seq}a` }),
    2000,
  );
  if (first === undefined) return undefined;
  const challenge = first.challenges.find((c) => c.realm === PBX_REALM);
  assert.ok(challenge, `the registrar's challenge: ${first.text}`);
  const real = client.credentials(challenge, { username: 'alice', password, method: 'REGISTER', nc: 1 });
  const lines = decoy === undefined ? [real] : decoyAfter ? [real, decoy] : [decoy, real];
  const r = await client.send(
    client.request({
      method: 'REGISTER',
      user: 'alice',
      callId,
      cseq: 2,
      branch: `dc${seq}b`,
      auth: lines.join('\r\n'),
    }),
    2000,
  );
  return r?.status ?? 0;
}

describe('decoy credentials in front of the real guess (issue 16, item 1)', () => {
  it('by default an ambiguous request is refused 400 at the edge and never reaches the registrar', async () => {
    await registrar();
    const sw = await sipwarden(32101);
    const client = await SipClient.open('127.103.1.10', 32110, { address: '127.103.1.2', port: 32101 });
    const capture = await captureLoopback(`udp and dst host ${KAMAILIO.address} and dst port ${KAMAILIO.port}`);
    try {
      const first = await client.send(
        client.request({ method: 'REGISTER', user: 'alice', callId: 'amb', cseq: 1, branch: 'amb1' }),
      );
      assert.equal(first?.status, 401, 'the registrar challenges');
      const challenge = first.challenges.find((c) => c.realm === PBX_REALM) as Challenge;
      const real = client.credentials(challenge, { username: 'alice', password: 'guess-1', method: 'REGISTER', nc: 1 });
      const proxy = real.replace(/^Authorization:/, 'Proxy-Authorization:').replace('guess', 'x');
      const cases: Array<[string, string[]]> = [
        ['Basic in front of Digest', [BASIC_DECOY, real]],
        ['Basic after Digest', [real, BASIC_DECOY]],
        ['two Digest for the registrar realm', [real.replace('alice', 'mallory'), real]],
        ['the same realm in Authorization and Proxy-Authorization', [proxy, real]],
        ['a made-up realm beside the real one', [digestDecoy(1), real]],
      ];
      let cseq = 2;
      for (const [what, lines] of cases) {
        const r = await client.send(
          client.request({
            method: 'REGISTER',
            user: 'alice',
            callId: 'amb',
            cseq: cseq++,
            branch: `amb${cseq}`,
            auth: lines.join('\r\n'),
          }),
        );
        assert.equal(r?.status, 400, `${what}: ${r?.text}`);
        assert.match(r.text, /^SIP\/2\.0 400 Ambiguous Credentials\r\n/, what);
      }
      // A single Digest credentials still reaches the registrar (wrong password: 401).
      const single = await client.send(
        client.request({ method: 'REGISTER', user: 'alice', callId: 'amb', cseq: cseq++, branch: 'ambz', auth: real }),
      );
      assert.equal(single?.status, 401);
      const events = sw.logs().filter((l) => l.guard === 'sanity' && l.rule === 'credentials' && l.action === 'reply');
      assert.equal(events.length, cases.length, 'each refusal is an event');
      const reached = (await capture.stop()).map((p) => p.toString('latin1'));
      assert.equal(reached.filter((p) => p.startsWith('REGISTER ')).length, 2, 'only the two unambiguous REGISTERs');
      assert.ok(!reached.some((p) => /Basic|decoy|mallory/.test(p)), 'no ambiguous request reached Kamailio');
    } finally {
      client.close();
    }
  });

  it('with the sanity check off, the failures behind a Basic or Digest decoy still ban after max_failures', async () => {
    await registrar();
    // Judged by the watch alone: sanity only reports (monitor), the decoys go through.
    const sw = await sipwarden(32102, 'guards:\n  sanity: {mode: monitor}\n');
    const server = { address: '127.103.1.2', port: 32102 };
    const basic = await SipClient.open('127.103.1.11', 32111, server);
    const digest = await SipClient.open('127.103.1.12', 32112, server);
    const after = await SipClient.open('127.103.1.13', 32113, server);
    const phone = await SipClient.open('127.103.1.100', 32119, server);
    try {
      for (const [client, decoy, decoyAfter] of [
        [basic, BASIC_DECOY, false],
        [digest, digestDecoy(2), false],
        [after, digestDecoy(3), true],
      ] as const) {
        const statuses: Array<number | undefined> = [];
        for (let i = 1; i <= 5; i++) statuses.push(await guess(client, `guess-${i}`, decoy, decoyAfter));
        // As without a decoy: 401, 401, 403 Try later, then banned (not even challenged).
        assert.deepEqual(statuses, [401, 401, 403, undefined, undefined], client.address);
      }
      assert.deepEqual(banLines(sw).sort(), [
        'Blocking traffic from 127.103.1.11 guard=brute-force rule=failures for 3600s',
        'Blocking traffic from 127.103.1.12 guard=brute-force rule=failures for 3600s',
        'Blocking traffic from 127.103.1.13 guard=brute-force rule=failures for 3600s',
      ]);
      const bans = sw.logs().filter((l) => l.event === 'ban');
      for (const b of bans) assert.match(String(b.detail), /last as alice$/, 'counted for alice, not the decoy');
      assert.equal(await guess(phone, 'alice-secret-1', undefined), 200, 'the real phone registers');
    } finally {
      for (const c of [basic, digest, after, phone]) c.close();
    }
  });

  it('a decoy username per request does not hide distributed guessing of the real one', async () => {
    await registrar();
    const sw = await sipwarden(
      32103,
      'guards:\n  sanity: {mode: monitor}\n  brute_force:\n    distributed: {sources: 5, lock: true, lock_duration: 10m}\n',
    );
    const server = { address: '127.103.1.2', port: 32103 };
    const phone = await SipClient.open('127.103.1.101', 32120, server);
    try {
      assert.equal(await guess(phone, 'alice-secret-1', undefined), 200, 'the phone is known good for alice');
      for (let i = 1; i <= 5; i++) {
        const c = await SipClient.open(`127.103.1.${30 + i}`, 32121, server);
        try {
          assert.equal(await guess(c, `guess-${i}`, digestDecoy(10 + i)), 401);
        } finally {
          c.close();
        }
      }
      await waitFor(() => sw.logs().some((l) => l.event === 'alert' && l.rule === 'distributed'), 'the alert');
      const alerts = sw.logs().filter((l) => l.event === 'alert' && l.rule === 'distributed');
      assert.equal(alerts.length, 1);
      assert.equal(alerts[0]!.user, 'alice');
      assert.equal(alerts[0]!.realm, PBX_REALM);
      // The lock holds for alice whatever decoy comes with her credentials; the phone goes on.
      const sixth = await SipClient.open('127.103.1.36', 32121, server);
      try {
        assert.equal(await guess(sixth, 'guess-6', digestDecoy(16)), 403);
        assert.equal(await guess(sixth, 'guess-7', BASIC_DECOY, true), 403);
      } finally {
        sixth.close();
      }
      assert.equal(await guess(phone, 'alice-secret-1', undefined), 200);
      assert.equal(sw.logs().filter((l) => l.rule === 'distributed-lock').length, 2);
    } finally {
      phone.close();
    }
  });
});

describe('decoy credentials and fraud limits (issue 16, item 1)', () => {
  /** Five calls by alice, each with a Basic decoy in front of her Digest credentials. */
  async function calls(port: number, guards: string): Promise<{ statuses: number[]; reached: number }> {
    const upstream = await Upstream.open('127.103.1.1', port);
    const sw = await startSipwarden(
      `listen: [udp://127.103.1.2:${port + 1}]\n` +
        `upstreams:\n  - name: pbx\n    targets: [udp://127.103.1.1:${port}]\n    ping: false\n` +
        `guards:\n  fraud:\n    calls_per_minute: {block: 2}\n${guards}`,
      { listeners: 1 },
    );
    instances.push(sw);
    const client = await SipClient.open('127.103.1.40', port + 2, { address: '127.103.1.2', port: port + 1 });
    const statuses: number[] = [];
    try {
      for (let i = 1; i <= 5; i++) {
        const digest =
          'Proxy-Authorization: Digest username="alice", realm="sipwarden.test", nonce="n1", ' +
          `uri="${client.uri()}", response="00000000000000000000000000000000"`;
        const r = await client.send(
          client.request({
            method: 'INVITE',
            user: 'alice',
            callId: `fraud-${port}-${i}`,
            cseq: 2,
            branch: `fr${port}${i}`,
            auth: `${BASIC_DECOY.replace('Authorization', 'Proxy-Authorization')}\r\n${digest}`,
          }),
        );
        statuses.push(r?.status ?? 0);
      }
      return { statuses, reached: upstream.requests.filter((t) => t.startsWith('INVITE ')).length };
    } finally {
      client.close();
      upstream.close();
      await sw.stop();
    }
  }

  it('refused at the edge by default; with the sanity check off, block: 2 still admits two calls', async () => {
    const strict = await calls(32130, '');
    assert.deepEqual(strict.statuses, [400, 400, 400, 400, 400]);
    assert.equal(strict.reached, 0);
    const judged = await calls(32135, '  sanity: {mode: monitor}\n');
    assert.deepEqual(judged.statuses, [200, 200, 403, 403, 403]);
    assert.equal(judged.reached, 2);
  });
});
