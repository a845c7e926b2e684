import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseMessage } from '../../src/sip/parser.js';
import { PROJECT_ROOT } from '../helpers/corpus.js';
import { start, waitFor } from '../helpers/process.js';
import { sipp } from '../helpers/sipp.js';
import { startSipwarden } from '../helpers/sipwarden.js';
import { sleep, UdpPeer } from '../helpers/udp.js';

/**
 * The honeypot through the real sipwarden: the upstream is 127.20.0.9:18070 (a sipp UAS),
 * sipwarden listens on 127.20.0.1:18060, attackers and phones use other 127.20.x addresses.
 */
const UPSTREAM = '127.20.0.9';

interface ProxyStatsJson {
  requestsForwarded: number;
  honeypot: Record<string, number>;
}
const UPSTREAM_PORT = '18070';

function config(port: number, upstreamPort: number, extra = ''): string {
  return [
    `listen: [udp://127.20.0.1:${port}]`,
    'upstreams:',
    '  - name: pbx',
    `    targets: [udp://${UPSTREAM}:${upstreamPort}]`,
    '    ping: false',
    'guards:',
    '  scanner:',
    '    signals:',
    '      user_agent: honeypot',
    extra,
  ].join('\n');
}

/** The messages sipp logged as received (-trace_msg), as their bytes. */
function receivedMessages(file: string): Buffer[] {
  const text = readFileSync(file, 'latin1');
  const out: Buffer[] = [];
  for (const block of text.split(/^-{10,}.*$/m)) {
    const m = /^\s*UDP message received \[(\d+)\] bytes :\r?\n/.exec(block);
    if (!m) continue;
    const body = block.slice(m[0].length).replace(/^\s+/, '');
    // sipp logs the datagram with its line ends and adds blank lines: restore the end.
    const text = body.replace(/\r?\n/g, '\r\n').replace(/(\r\n)+$/, '');
    out.push(Buffer.from(text.includes('\r\n\r\n') ? `${text}\r\n` : `${text}\r\n\r\n`, 'latin1'));
  }
  return out;
}

function attacks(configFile: string, ...args: string[]): string {
  return execFileSync(
    process.execPath,
    [join(PROJECT_ROOT, 'bin/sipwarden'), 'attacks', ...args, '--config', configFile],
    {
      encoding: 'utf8',
    },
  );
}

describe('honeypot: through sipwarden', () => {
  it('a scanner registers and calls "successfully" while nothing reaches the upstream; a phone is unaffected', async () => {
    const sw = await startSipwarden(config(18060, 18070), { listeners: 1 });
    const uasLog = join(sw.dir, 'uas.msg');
    const uas = sipp({
      scenario: 'uas-call.xml',
      ip: UPSTREAM,
      port: 18070,
      calls: 1,
      timeoutSec: 40,
      extra: ['-trace_msg', '-message_file', uasLog],
    });
    await sleep(200);
    const password = randomBytes(9).toString('base64url');
    const csv = join(sw.dir, 'scan.csv');
    writeFileSync(csv, 'SEQUENTIAL\n1001;unused;0046700123456\n');
    const scanLog = join(sw.dir, 'scan.msg');
    const scanner = sipp({
      scenario: 'honeypot-scanner.xml',
      ip: '127.20.1.1',
      port: 18090,
      remote: '127.20.0.1:18060',
      calls: 1,
      timeoutSec: 20,
      extra: ['-inf', csv, '-au', '1001', '-ap', password, '-trace_msg', '-message_file', scanLog],
    });
    const s = await scanner.result;
    assert.equal(s.failed, 0, s.output);
    assert.equal(s.successful, 1, s.output);

    // A legitimate phone on another address: its call reaches the upstream and completes.
    const phone = sipp({
      scenario: 'uac-call.xml',
      ip: '127.20.2.1',
      port: 18091,
      remote: '127.20.0.1:18060',
      calls: 1,
      timeoutSec: 20,
    });
    const [p, u] = await Promise.all([phone.result, uas.result]);
    assert.equal(p.successful, 1, p.output);
    assert.equal(u.successful, 1, u.output);

    // The upstream saw the phone's call only.
    const upstreamSaw = readFileSync(uasLog, 'latin1');
    assert.equal(upstreamSaw.match(/^INVITE /gm)?.length, 1);
    assert.doesNotMatch(upstreamSaw, /friendly-scanner|REGISTER|0046700123456/);

    // Every answer the scanner got parses cleanly and names nothing internal.
    const answers = receivedMessages(scanLog);
    assert.ok(answers.length >= 6, `answers: ${answers.length}`);
    for (const a of answers) {
      const msg = parseMessage(a, { requireContentLength: false });
      assert.equal(msg.isRequest, false);
      const text = a.toString('latin1');
      assert.ok(!text.includes(UPSTREAM) && !text.includes(UPSTREAM_PORT), text);
      assert.match(text, /^Server: Asterisk PBX 18\.20\.0\r$/m);
    }
    const ok = answers
      .map((a) => a.toString('latin1'))
      .find((t) => /CSeq: 3 INVITE/.test(t) && t.startsWith('SIP/2.0 200'));
    assert.ok(ok, 'a 200 OK to the INVITE');
    assert.match(ok, /^c=IN IP4 127\.20\.0\.1\r$/m);
    assert.match(ok, /^m=audio \d+ RTP\/AVP 0 101\r$/m);

    await sleep(1500); // the records are written within a second
    const shown = attacks(sw.configFile, 'show', '127.20.1.1');
    assert.match(shown, /usernames:\s+1001\b/);
    assert.match(shown, /numbers:\s+0046700123456/);
    assert.match(shown, /user agents: friendly-scanner/);
    assert.match(shown, /sent by:\s+scanner\/user-agent/);
    assert.match(shown, /REGISTER 2/);
    assert.ok(!shown.includes(password), 'the password is never recorded');
    const csvOut = attacks(sw.configFile, 'export', '--format', 'csv');
    assert.match(csvOut, /^address,first_seen,last_seen,requests,methods,user_agents,usernames,numbers,reasons\r$/m);
    assert.match(
      csvOut,
      /^127\.20\.1\.1,[^,]+,[^,]+,5,REGISTER:2 INVITE:1 ACK:1 BYE:1,friendly-scanner,1001 \| 0046700123456,0046700123456,scanner\/user-agent \| held\r$/m,
    );
    const json = JSON.parse(attacks(sw.configFile, 'export', '--format', 'json')) as Array<Record<string, unknown>>;
    assert.deepEqual(
      json.map((r) => r.address),
      ['127.20.1.1'],
    );

    assert.equal(await sw.stop(), 0);
    const stopping = sw.logs().find((l) => l.event === 'stopping') as { stats: ProxyStatsJson };
    assert.ok(stopping.stats.honeypot.scanner >= 3, JSON.stringify(stopping.stats));
    // INVITE, ACK and BYE of the phone, nothing else.
    assert.equal(stopping.stats.requestsForwarded, 3, JSON.stringify(stopping.stats));
    const entered = sw.logs().filter((l) => l.event === 'honeypot-source');
    assert.equal(entered.length, 1, 'one log line per new source');
  });

  it('svmap records the fake banner (a false positive)', async () => {
    const sw = await startSipwarden(config(18160, 18170), { listeners: 1 });
    // svmap sends from the loopback address the kernel picks for its target.
    const run = start('timeout', ['-k', '2', '30', 'svmap', '127.20.0.1', '-p', '18160']);
    const code = await run.exited;
    const out = run.output();
    assert.equal(code, 0, out);
    assert.match(out, /127\.20\.0\.1:18160\s*\|\s*Asterisk PBX 18\.20\.0/);
    assert.equal(await sw.stop(), 0);
    const stopping = sw.logs().find((l) => l.event === 'stopping') as { stats: ProxyStatsJson };
    assert.equal(stopping.stats.requestsForwarded, 0);
    assert.ok(stopping.stats.honeypot.scanner >= 1);
  });

  it('a flood from 200 spoofed-looking sources gets at most factor × bytes back each', async () => {
    const sw = await startSipwarden(
      config(18260, 18270, '  replies_per_second: 100000\nhoneypot:\n  amplification_factor: 3\n'),
      {
        listeners: 1,
      },
    );
    const peers: UdpPeer[] = [];
    const sent = new Map<UdpPeer, number>();
    for (let i = 0; i < 200; i++) {
      const p = await UdpPeer.bind(`127.20.${10 + Math.floor(i / 100)}.${(i % 100) + 1}`, 18100 + (i % 100));
      peers.push(p);
      sent.set(p, 0);
    }
    const host = (p: UdpPeer) => p.socket.address().address;
    // Each sends a minimal INVITE (its full answer would be several times its size), an
    // OPTIONS, a small OPTIONS and an INVITE with SDP, and never ACKs anything.
    for (const round of [3, 0, 1, 2]) {
      for (const p of peers) {
        const tag = `f${round}x${p.port}`;
        const msg =
          round === 3
            ? `INVITE sip:1@a SIP/2.0\r\nVia: SIP/2.0/UDP ${host(p)}:${p.port};branch=z9hG4bK${tag}\r\nFrom: <sip:x@y>;tag=${tag}\r\nTo: <sip:1@a>\r\nCall-ID: ${tag}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nUser-Agent: friendly-scanner\r\n\r\n`
            : round === 1
              ? `OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/UDP ${host(p)}:${p.port};branch=z9hG4bK${tag}\r\nFrom: <sip:x@y>;tag=${tag}\r\nTo: <sip:a@b>\r\nCall-ID: ${tag}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nUser-Agent: friendly-scanner\r\nContent-Length: 0\r\n\r\n`
              : round === 0
                ? optionsFrom(host(p), p.port, tag)
                : inviteFrom(host(p), p.port, tag);
        sent.set(p, sent.get(p)! + Buffer.byteLength(msg));
        await p.send(msg, 18260, '127.20.0.1');
      }
      // The minimal INVITE's 200 OK comes after the ringing: let it be decided alone.
      await sleep(round === 3 ? 1200 : 50);
    }
    await sleep(1500); // ringing INVITEs are answered after a while
    let totalIn = 0;
    let totalOut = 0;
    let answered = 0;
    for (const p of peers) {
      const got = p.received.reduce((n, r) => n + Buffer.byteLength(r.data, 'latin1'), 0);
      totalIn += sent.get(p)!;
      totalOut += got;
      if (got > 0) answered++;
      assert.ok(got <= 3 * sent.get(p)!, `${host(p)}: ${got} bytes back for ${sent.get(p)} sent`);
      for (const r of p.received) {
        assert.ok(!r.data.includes(UPSTREAM) && !r.data.includes('18270'), r.data);
        parseMessage(Buffer.from(r.data, 'latin1'));
      }
      p.close();
    }
    assert.ok(answered > 0, 'the honeypot answered some');
    assert.equal(await sw.stop(), 0);
    const stopped = sw.logs().find((l) => l.event === 'honeypot-stopped') as { honeypot: Record<string, number> };
    assert.ok(stopped.honeypot.reflectionRefused > 0, JSON.stringify(stopped));
    console.log(
      `flood: ${peers.length} sources, ${totalIn} bytes in, ${totalOut} bytes out (ratio ${(totalOut / totalIn).toFixed(2)}), ` +
        `${answered} answered, honeypot ${JSON.stringify(stopped.honeypot)}`,
    );
  });

  it('forward: flagged requests go to the external honeypot and its answers come back', async () => {
    const sw = await startSipwarden(config(18290, 18291, 'honeypot:\n  forward: udp://127.20.0.8:18292\n'), {
      listeners: 1,
    });
    const external = await UdpPeer.bind('127.20.0.8', 18292);
    const attacker = await UdpPeer.bind('127.20.3.1', 18293);
    try {
      await attacker.send(optionsFrom('127.20.3.1', 18293, 'fw1'), 18290, '127.20.0.1');
      await waitFor(() => external.received.length > 0, 'the forwarded OPTIONS');
      const req = external.received[0]!.data;
      assert.match(
        req,
        /^OPTIONS sip:100@127\.20\.0\.1 SIP\/2\.0\r\nVia: SIP\/2\.0\/UDP 127\.20\.0\.1:18290;branch=z9hG4bKsw/,
      );
      assert.match(req, /User-Agent: friendly-scanner/);
      // The external honeypot answers to the top Via (sipwarden), which relays it to the attacker.
      const vias = req.match(/^Via: .*\r$/gm)!.join('\n');
      const head = req.split('\r\n\r\n')[0]!.split('\r\n');
      const copy = head.filter((l) => /^(Via|From|To|Call-ID|CSeq):/.test(l));
      await external.send(
        `SIP/2.0 200 OK\r\n${copy.join('\r\n')}\r\nServer: FakePBX\r\nContent-Length: 0\r\n\r\n`,
        18290,
        '127.20.0.1',
      );
      await waitFor(() => attacker.received.length > 0, 'the relayed answer');
      const answer = attacker.received[0]!.data;
      assert.match(answer, /^SIP\/2\.0 200 OK/);
      assert.match(answer, /Server: FakePBX/);
      assert.ok(!answer.includes('127.20.0.8') && !answer.includes('18292'), answer);
      assert.ok(vias.includes('127.20.0.1:18290'));
    } finally {
      external.close();
      attacker.close();
    }
    assert.equal(await sw.stop(), 0);
    const stopped = sw.logs().find((l) => l.event === 'honeypot-stopped') as { honeypot: Record<string, number> };
    assert.equal(stopped.honeypot.forwarded, 1);
    assert.equal(stopped.honeypot.answered, 0);
  });
});

function optionsFrom(host: string, port: number, tag: string): string {
  return [
    'OPTIONS sip:100@127.20.0.1 SIP/2.0',
    `Via: SIP/2.0/UDP ${host}:${port};branch=z9hG4bK${tag};rport`,
    `From: "sipvicious"<sip:100@1.1.1.1>;tag=${tag}`,
    'To: "sipvicious"<sip:100@1.1.1.1>',
    `Call-ID: ${tag}`,
    'CSeq: 1 OPTIONS',
    'Max-Forwards: 70',
    'Contact: <sip:100@1.1.1.1:5060>',
    'User-Agent: friendly-scanner',
    'Accept: application/sdp',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

function inviteFrom(host: string, port: number, tag: string): string {
  const sdp = `v=0\r\no=- 1 1 IN IP4 ${host}\r\ns=-\r\nc=IN IP4 ${host}\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8\r\n`;
  return [
    'INVITE sip:0044123@127.20.0.1 SIP/2.0',
    `Via: SIP/2.0/UDP ${host}:${port};branch=z9hG4bK${tag};rport`,
    `From: <sip:1000@127.20.0.1>;tag=${tag}`,
    'To: <sip:0044123@127.20.0.1>',
    `Call-ID: ${tag}`,
    'CSeq: 1 INVITE',
    'Max-Forwards: 70',
    `Contact: <sip:1000@${host}:${port}>`,
    'User-Agent: friendly-scanner',
    'Content-Type: application/sdp',
    `Content-Length: ${sdp.length}`,
    '',
    sdp,
  ].join('\r\n');
}
