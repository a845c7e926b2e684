/** `sipwarden firewall` renders the admin API's port from `admin.listen` of the configuration. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { renderIptables } from '../../src/firewall/iptables.js';
import { renderNftables } from '../../src/firewall/nftables.js';
import { PROJECT_ROOT } from '../helpers/corpus.js';
import { writeTestConfig } from '../helpers/firewall-config.js';

const BIN = join(PROJECT_ROOT, 'bin', 'sipwarden');
const FIREWALL = 'firewall: { open_tcp_ports: [22], scan_slowing: false }';

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'firewall', ...args], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('sipwarden firewall and the admin API', () => {
  const reachable = writeTestConfig(`${FIREWALL}\nadmin: { listen: "http://203.0.113.10:8443" }`);
  const loopback = writeTestConfig(`${FIREWALL}\nadmin: { listen: "http://127.0.0.1:8443" }`);
  after(() => {
    for (const t of [reachable, loopback]) rmSync(t.dir, { recursive: true, force: true });
  });

  it('keeps an admin API on a reachable address to loopback and --admin-from', () => {
    const { firewall, listen } = reachable.config;
    const r = cli(['nftables', '--config', reachable.file]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, renderNftables({ firewall, listeners: listen, admin: { port: 8443, allowFrom: [] } }));
    assert.match(r.stdout, /tcp dport 8443 counter drop/);
    const from = cli([
      'iptables',
      '--config',
      reachable.file,
      '--family',
      '4',
      '--no-tarpit',
      '--admin-from',
      '198.51.100.0/24',
    ]);
    assert.equal(from.status, 0, from.stderr);
    const expected = renderIptables({
      firewall,
      listeners: listen,
      admin: { port: 8443, allowFrom: ['198.51.100.0/24'] },
      tarpit: false,
    });
    assert.equal(from.stdout, expected.ipv4);
    assert.match(from.stdout, /198\.51\.100\.0\/24.*--dport 8443|--dport 8443.*198\.51\.100\.0\/24/);
  });

  it('opens nothing for an admin API on loopback (the loopback rule serves it); --admin-port still wins', () => {
    const { firewall, listen } = loopback.config;
    const r = cli(['nftables', '--config', loopback.file]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, renderNftables({ firewall, listeners: listen }));
    assert.doesNotMatch(r.stdout, /8443/);
    const port = cli(['nftables', '--config', loopback.file, '--admin-port', '9000']);
    assert.equal(port.stdout, renderNftables({ firewall, listeners: listen, admin: { port: 9000, allowFrom: [] } }));
  });

  it('disabled: no admin rules', () => {
    const off = writeTestConfig(`${FIREWALL}\nadmin: { enabled: false, listen: "http://203.0.113.10:8443" }`);
    try {
      const r = cli(['nftables', '--config', off.file]);
      assert.equal(r.stdout, renderNftables({ firewall: off.config.firewall, listeners: off.config.listen }));
    } finally {
      rmSync(off.dir, { recursive: true, force: true });
    }
  });
});
