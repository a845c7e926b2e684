import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { waitFor } from '../helpers/process.js';
import { sipp } from '../helpers/sipp.js';
import { startSipwarden } from '../helpers/sipwarden.js';

function exchange(text: string, port: number, from: string): Promise<string[]> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const replies: string[] = [];
    s.on('message', (m) => replies.push(m.toString()));
    s.bind(0, from, () => {
      s.send(Buffer.from(text), port, '127.0.0.1');
      setTimeout(() => {
        s.close();
        resolve(replies);
      }, 300);
    });
  });
}

describe('proxy: operations', () => {
  it('answers 483 when Max-Forwards reaches zero', async () => {
    const sw = await startSipwarden(
      'listen: [udp://127.0.0.1:15760]\nupstreams:\n  - name: pbx\n    targets: [udp://127.0.0.1:15770]\n    ping: false\n',
      { listeners: 1 },
    );
    const replies = await exchange(
      [
        'OPTIONS sip:pbx@127.0.0.1:15760 SIP/2.0',
        'Via: SIP/2.0/UDP 127.0.0.2:15791;branch=z9hG4bK-mf0',
        'Max-Forwards: 0',
        'From: <sip:a@127.0.0.2>;tag=1',
        'To: <sip:pbx@127.0.0.1>',
        'Call-ID: mf0@127.0.0.2',
        'CSeq: 1 OPTIONS',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
      15760,
      '127.0.0.2',
    );
    assert.equal(replies.length, 1);
    assert.match(replies[0]!, /^SIP\/2\.0 483 /);
    assert.match(replies[0]!, /^To: <sip:pbx@127\.0\.0\.1>;tag=\w+/m, 'the reply adds a To tag');
    assert.equal(await sw.stop(), 0);
  });

  it('answers 482 when a request comes round through sipwarden again', async () => {
    // A misconfiguration that loops: the upstream is sipwarden's own address.
    const sw = await startSipwarden(
      'listen: [udp://127.0.0.1:16260]\nupstreams:\n  - name: pbx\n    targets: [udp://127.0.0.1:16260]\n    ping: false\n',
      { listeners: 1 },
    );
    const replies = await new Promise<string[]>((resolve) => {
      const s = createSocket('udp4');
      const got: string[] = [];
      s.on('message', (m) => got.push(m.toString()));
      s.bind(16291, '127.0.0.2', () => {
        const text = [
          'OPTIONS sip:pbx@127.0.0.1:16260 SIP/2.0',
          'Via: SIP/2.0/UDP 127.0.0.2:16291;branch=z9hG4bK-loop-1;rport',
          'Max-Forwards: 70',
          'From: <sip:a@127.0.0.2>;tag=1',
          'To: <sip:pbx@127.0.0.1>',
          'Call-ID: loop-1@127.0.0.2',
          'CSeq: 1 OPTIONS',
          'Content-Length: 0',
          '',
          '',
        ].join('\r\n');
        s.send(Buffer.from(text), 16260, '127.0.0.1');
        setTimeout(() => {
          s.close();
          resolve(got);
        }, 500);
      });
    });
    assert.equal(replies.length, 1, replies.join('\n---\n'));
    assert.match(replies[0]!, /^SIP\/2\.0 482 Loop Detected/);
    assert.equal((replies[0]!.match(/^Via:/gm) ?? []).length, 1, 'only the client Via is left');
    assert.equal(await sw.stop(), 0);
    const stopping = sw.logs().find((l) => l.event === 'stopping') as { stats: { requestsForwarded: number } };
    assert.equal(stopping.stats.requestsForwarded, 1, 'the loop was cut at the second pass');
  });

  it('takes a dead upstream target out of rotation and keeps calls flowing', async () => {
    // Target 15870 never answers; 15871 is a sipp UAS that also answers the OPTIONS pings.
    const sw = await startSipwarden(
      `listen: [udp://127.0.0.1:15860]
upstreams:
  - name: pbx
    targets: [udp://127.0.0.1:15870, udp://127.0.0.1:15871]
    ping: { interval: 200ms, timeout: 150ms, failures: 2 }
`,
      { listeners: 1 },
    );
    const uas = sipp({ scenario: 'uas-call-pings.xml', ip: '127.0.0.1', port: 15871, calls: 100_000 });
    await waitFor(() => sw.logs().some((l) => l.event === 'upstream-down'), 'the dead target to be taken out', 5000);
    const down = sw.logs().find((l) => l.event === 'upstream-down');
    assert.equal(down?.target, 'udp://127.0.0.1:15870');
    const uac = sipp({
      scenario: 'uac-call.xml',
      ip: '127.0.0.2',
      port: 15890,
      remote: '127.0.0.1:15860',
      calls: 20,
      rate: 40,
    });
    const a = await uac.result;
    assert.equal(a.failed, 0, a.output);
    assert.equal(a.successful, 20, a.output);
    assert.ok(!sw.logs().some((l) => l.event === 'upstream-down' && l.target === 'udp://127.0.0.1:15871'));
    uas.run.signal('SIGTERM');
    await uas.result;
    assert.equal(await sw.stop(), 0);
  });

  it('reloads on SIGHUP without failing calls in progress, adding a listener', async () => {
    // 20 calls a second from one address is above the flood guard's default density.
    const base =
      'upstreams:\n  - name: pbx\n    targets: [udp://127.0.0.1:15970]\n    ping: false\nguards: { flood: { max_messages: 1000 } }\n';
    const sw = await startSipwarden(`listen: [udp://127.0.0.1:15960]\n${base}`, { listeners: 1 });
    const uas = sipp({ scenario: 'uas-call.xml', ip: '127.0.0.1', port: 15970, calls: 45 });
    const uac = sipp({
      scenario: 'uac-call.xml',
      ip: '127.0.0.2',
      port: 15990,
      remote: '127.0.0.1:15960',
      calls: 40,
      rate: 20,
    });
    await new Promise((r) => setTimeout(r, 700));
    writeFileSync(
      sw.configFile,
      `data_dir: ${sw.dir}/data\nlisten: [udp://127.0.0.1:15960, udp://127.0.0.1:15961]\nlog: { level: debug }\n${base}`,
    );
    sw.run.signal('SIGHUP');
    await waitFor(() => sw.logs().some((l) => l.event === 'reloaded'), 'the reload');
    const a = await uac.result;
    assert.equal(a.failed, 0, a.output);
    assert.equal(a.successful, 40, a.output);
    // The listener added by the reload works.
    const more = sipp({
      scenario: 'uac-call.xml',
      ip: '127.0.0.2',
      port: 15991,
      remote: '127.0.0.1:15961',
      calls: 5,
      rate: 20,
    });
    const m = await more.result;
    assert.equal(m.successful, 5, m.output);
    const b = await uas.result;
    assert.equal(b.successful, 45, b.output);
    assert.equal(await sw.stop(), 0);
  });

  it('refuses to start with a clear error when the port is taken or the config is bad', async () => {
    const sw = await startSipwarden(
      'listen: [udp://127.0.0.1:16060]\nupstreams:\n  - name: pbx\n    targets: [udp://127.0.0.1:16070]\n    ping: false\n',
      { listeners: 1 },
    );
    await assert.rejects(
      startSipwarden(
        'listen: [udp://127.0.0.1:16060]\nupstreams:\n  - name: pbx\n    targets: [udp://127.0.0.1:16070]\n',
        {
          listeners: 1,
        },
      ),
      /cannot listen on udp:\/\/127\.0\.0\.1:16060: address already in use/,
    );
    await assert.rejects(
      startSipwarden(
        'listen: [udp://127.0.0.1:16061]\nupstreams:\n  - name: pbx\n    targetz: [udp://127.0.0.1:16070]\n',
        {
          listeners: 1,
        },
      ),
      /sipwarden\.yaml:4: upstreams\[0\]/,
    );
    assert.equal(await sw.stop(), 0);
  });
});
