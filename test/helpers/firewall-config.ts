/** A configuration with UDP, TCP and TLS listeners on IPv4 and IPv6, shared by the firewall tests. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../src/config/index.js';
import { loadConfig } from '../../src/config/index.js';

export interface TestConfig {
  dir: string;
  file: string;
  config: Config;
}

/** Writes the configuration (with placeholder certificate files) and loads it with the real loader. */
export function writeTestConfig(
  firewall = 'firewall: { open_tcp_ports: [22, 443], open_udp_ports: ["16000-16999", 5004, "10000-15999"], scan_slowing: true }',
): TestConfig {
  const dir = mkdtempSync(join(tmpdir(), 'sipwarden-fw-'));
  writeFileSync(join(dir, 'cert.pem'), 'placeholder\n');
  writeFileSync(join(dir, 'key.pem'), 'placeholder\n');
  const file = join(dir, 'sipwarden.yaml');
  writeFileSync(
    file,
    [
      `data_dir: ${dir}/data`,
      'listen:',
      '  - udp://0.0.0.0:5060',
      '  - tcp://0.0.0.0:5060',
      '  - { url: tls://203.0.113.10:5061, cert: cert.pem, key: key.pem }',
      '  - "udp://[::]:5060"',
      '  - "tcp://[2001:db8::10]:5080"',
      '  - { url: "tls://[2001:db8::10]:5061", cert: cert.pem, key: key.pem }',
      'upstreams:',
      '  - name: pbx',
      '    targets: [udp://10.0.0.10:5060]',
      firewall,
      '',
    ].join('\n'),
  );
  return { dir, file, config: loadConfig({ file }) };
}
