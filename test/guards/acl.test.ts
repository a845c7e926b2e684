import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/process.js';
import { type SipwardenInstance, startSipwarden } from '../helpers/sipwarden.js';
import { options, sleep, UdpPeer } from '../helpers/udp.js';

const PORT = 17800;

describe('acl guard: allow and deny lists, re-read files', () => {
  let sw: SipwardenInstance;
  let upstream: UdpPeer;
  let denyFile: string;

  before(async () => {
    upstream = await UdpPeer.bind('127.0.0.1', PORT + 1);
    const dir = mkdtempSync(join(tmpdir(), 'sw-acl-'));
    denyFile = join(dir, 'deny.txt');
    writeFileSync(denyFile, '# shared blocklist\n127.5.0.2\n127.5.9.0/24 ; a network\nnot-an-address\n');
    sw = await startSipwarden(
      [
        `listen: [udp://127.0.0.1:${PORT}]`,
        `upstreams: [{ name: pbx, targets: ["udp://127.0.0.1:${PORT + 1}"], ping: false }]`,
        'guards:',
        `  acl: { deny: [127.5.1.0/24], deny_files: [${denyFile}], action: reply }`,
      ].join('\n'),
      { listeners: 1 },
    );
  });

  after(async () => {
    await sw.stop();
    upstream.close();
  });

  async function probe(from: string, tag: string): Promise<{ forwarded: boolean; answer: string | undefined }> {
    const phone = await UdpPeer.bind(from);
    try {
      await phone.send(options(from, phone.port, tag), PORT);
      await sleep(150);
      return {
        forwarded: upstream.matching(`tag=${tag}`).length > 0,
        answer: phone.received[0]?.data.split('\r\n')[0],
      };
    } finally {
      phone.close();
    }
  }

  it('refuses sources in the config list and the file, with the configured answer', async () => {
    assert.deepEqual(await probe('127.5.0.2', 'acl1'), { forwarded: false, answer: 'SIP/2.0 403 Forbidden' });
    assert.deepEqual(await probe('127.5.1.77', 'acl2'), { forwarded: false, answer: 'SIP/2.0 403 Forbidden' });
    assert.deepEqual(await probe('127.5.9.200', 'acl3'), { forwarded: false, answer: 'SIP/2.0 403 Forbidden' });
    assert.equal((await probe('127.5.0.3', 'acl4')).forwarded, true);
    // The bad line was reported with its line number.
    assert.ok(
      sw.logs().some((l) => l.event === 'acl-file' && l.line === 4),
      'bad line reported',
    );
  });

  it('takes a changed deny file into account without a restart', async () => {
    writeFileSync(denyFile, '127.5.0.3\n');
    await waitFor(() => sw.logs().filter((l) => l.event === 'acl-loaded').length >= 2, 'the list to be re-read', 5000);
    assert.equal((await probe('127.5.0.3', 'acl5')).forwarded, false);
    // 127.5.0.2 is no longer in the file.
    assert.equal((await probe('127.5.0.2', 'acl6')).forwarded, true);
  });
});
