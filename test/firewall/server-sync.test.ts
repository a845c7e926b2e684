/**
 * `firewall.sync` in a running sipwarden: the rendered ruleset loaded in a network namespace,
 * sipwarden started inside it, and bans (from a real flood and from the CLI) appearing in the
 * kernel's banned sets with their timeouts, and leaving them when lifted.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROJECT_ROOT } from '../helpers/corpus.js';
import { haveCommands, Netns, netnsUnavailable } from '../helpers/netns.js';
import { type Running, start, waitFor } from '../helpers/process.js';

const BIN = join(PROJECT_ROOT, 'bin/sipwarden');
const PORT = 17850;
const skip = haveCommands('nft') ? netnsUnavailable() : 'nft (nftables) is not installed';

/** Addresses of one nft set. */
function elements(ns: Netns, set: string): Map<string, number> {
  const json = JSON.parse(ns.mustExec('nft', ['-j', 'list', 'set', 'inet', 'sipwarden', set])) as {
    nftables: Array<{ set?: { elem?: Array<{ elem: { val: string; timeout: number } } | string> } }>;
  };
  const out = new Map<string, number>();
  for (const entry of json.nftables) {
    for (const e of entry.set?.elem ?? []) {
      if (typeof e === 'string') out.set(e, 0);
      else out.set(e.elem.val, e.elem.timeout);
    }
  }
  return out;
}

describe('firewall.sync in a running sipwarden', { skip }, () => {
  let ns: Netns;
  let sw: Running;
  let file: string;
  const cli = (...args: string[]) =>
    execFileSync(process.execPath, [BIN, 'bans', ...args, '--config', file], { encoding: 'utf8' });

  before(async () => {
    ns = new Netns();
    const dir = mkdtempSync(join(tmpdir(), 'sipwarden-fwsync-'));
    file = join(dir, 'sipwarden.yaml');
    writeFileSync(
      file,
      [
        `data_dir: ${dir}/data`,
        `listen: [udp://127.0.0.1:${PORT}]`,
        `upstreams: [{ name: pbx, targets: ["udp://127.0.0.1:${PORT + 1}"], ping: false }]`,
        'guards: { flood: { max_messages: 50, ban: 10m } }',
        'firewall: { sync: true }',
        '',
      ].join('\n'),
    );
    const ruleset = execFileSync(process.execPath, [BIN, 'firewall', 'nftables', '--config', file], {
      encoding: 'utf8',
    });
    ns.mustExec('nft', ['-f', '-'], ruleset);
    sw = start('ip', ['netns', 'exec', ns.name, process.execPath, BIN, 'run', '--config', file]);
    await waitFor(() => sw.output().includes('"event":"listening"') || sw.proc.exitCode !== null, 'sipwarden');
    assert.equal(sw.proc.exitCode, null, sw.output());
  });

  after(async () => {
    sw?.signal('SIGTERM');
    await sw?.exited;
    ns?.delete();
  });

  it('puts a flood ban into the kernel set, with its timeout', async () => {
    // A flood from 127.0.0.5 inside the namespace (bounded: 300 datagrams).
    const flood = `const s=require('dgram').createSocket('udp4');s.bind(0,'127.0.0.5',()=>{let n=0;const m=Buffer.from('OPTIONS sip:x SIP/2.0\\r\\n\\r\\n');(function go(){for(let i=0;i<100;i++)s.send(m,${PORT},'127.0.0.1');if(++n<3)setTimeout(go,20);else setTimeout(()=>s.close(),100)})()})`;
    ns.mustExec(process.execPath, ['-e', flood]);
    await waitFor(() => elements(ns, 'banned_v4').has('127.0.0.5'), 'the flood ban in the kernel set', 5000);
    const timeout = elements(ns, 'banned_v4').get('127.0.0.5')!;
    assert.ok(timeout > 500 && timeout <= 600, `timeout ${timeout}s`);
    await waitFor(() => /Blocking traffic from 127\.0\.0\.5 guard=flood/.test(sw.output()), 'the ban line');
  });

  it('follows bans added and lifted with the CLI', async () => {
    cli('add', '192.0.2.9', '--for', '1h');
    cli('add', '2001:db8::9', '--for', '1h');
    await waitFor(
      () => elements(ns, 'banned_v4').has('192.0.2.9') && elements(ns, 'banned_v6').has('2001:db8::9'),
      'the CLI bans in the kernel sets',
      5000,
    );
    cli('remove', '192.0.2.9');
    await waitFor(() => !elements(ns, 'banned_v4').has('192.0.2.9'), 'the lifted ban to leave the set', 5000);
    assert.ok(elements(ns, 'banned_v6').has('2001:db8::9'));
  });
});
