// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} in YAML text is what these tests are about
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PROJECT_ROOT } from '../helpers/corpus.js';
import { start, waitFor } from '../helpers/process.js';

/**
 * `${VAR}` substitution as the real `sipwarden run` and `sipwarden bans` see it: the
 * environment holds a secret that is not sipwarden's, and one that is.
 */
const BIN = join(PROJECT_ROOT, 'bin/sipwarden');
const SECRET = 'TOPSECRET-5f0c1e2d3b4a69788796a5b4c3d2e1f0';
const ENV = {
  ...process.env,
  AWS_SECRET_ACCESS_KEY: SECRET,
  SIPWARDEN_UPSTREAM: SECRET,
  SIPWARDEN_SECRET: `${SECRET}-flow-token-key`,
  SIPWARDEN_LISTEN_IP: '127.104.9.2',
};

function configFile(yaml: string): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sipwarden-env-'));
  const file = join(dir, 'sipwarden.yaml');
  writeFileSync(
    file,
    `data_dir: ${dir}/data\n` +
      'listen: [udp://127.104.9.2:33301]\n' +
      'upstreams:\n  - name: pbx\n    targets: [udp://127.104.9.1:33300]\n    ping: false\n' +
      yaml,
  );
  return { dir, file };
}

async function runToExit(args: string[]): Promise<{ code: number; output: string }> {
  const p = start(process.execPath, [BIN, ...args], { env: ENV });
  const code = await Promise.race([p.exited, new Promise<number>((r) => setTimeout(() => r(-1), 15_000))]);
  if (code === -1) p.signal('SIGKILL');
  return { code, output: p.output() };
}

describe('environment variables in the configuration of a running sipwarden', () => {
  it('refuses to start on a variable that is not SIPWARDEN_..., naming it but not its value', async () => {
    const { file } = configFile('default_upstream: ${AWS_SECRET_ACCESS_KEY}\n');
    const r = await runToExit(['run', '--config', file]);
    assert.equal(r.code, 2, r.output);
    assert.match(
      r.output,
      /sipwarden\.yaml:7: default_upstream: \$\{AWS_SECRET_ACCESS_KEY\}: only environment variables named SIPWARDEN_\.\.\. are substituted/,
    );
    assert.doesNotMatch(r.output, /TOPSECRET/);
  });

  it('refuses SIPWARDEN_ variables in fields sent on the wire (reply reason, honeypot banner)', async () => {
    for (const [yaml, field] of [
      ['guards:\n  reply: {code: 403, reason: "${SIPWARDEN_SECRET}"}\n', 'guards.reply.reason'],
      ['honeypot:\n  server: "Asterisk ${SIPWARDEN_UPSTREAM}"\n', 'honeypot.server'],
    ] as const) {
      const { file } = configFile(yaml);
      const r = await runToExit(['run', '--config', file]);
      assert.equal(r.code, 2, r.output);
      assert.match(r.output, new RegExp(`${field.replace(/\./g, '\\.')}: takes no \\$\\{\\.\\.\\.\\} substitution`));
      assert.doesNotMatch(r.output, /TOPSECRET/);
    }
  });

  it('shows the variable, not its value, in errors about a substituted field: at start, in the CLI, on reload', async () => {
    const { file } = configFile('default_upstream: ${SIPWARDEN_UPSTREAM}\n');
    const r = await runToExit(['run', '--config', file]);
    assert.equal(r.code, 2, r.output);
    assert.match(r.output, /default_upstream: no upstream is named "\$\{SIPWARDEN_UPSTREAM\}" \(upstreams: "pbx"\)/);
    assert.doesNotMatch(r.output, /TOPSECRET/);
    const cli = await runToExit(['bans', 'list', '--config', file]);
    assert.equal(cli.code, 2, cli.output);
    assert.match(cli.output, /no upstream is named "\$\{SIPWARDEN_UPSTREAM\}"/);
    assert.doesNotMatch(cli.output, /TOPSECRET/);

    // A good file with SIPWARDEN_ variables where they belong starts; a reload to a bad one
    // is refused, and its log line does not show the value either.
    const good = configFile('');
    writeFileSync(
      good.file,
      `data_dir: ${good.dir}/data\n` +
        'listen: ["udp://${SIPWARDEN_LISTEN_IP}:33301"]\n' +
        'upstreams:\n  - name: pbx\n    targets: [udp://127.104.9.1:33300]\n    ping: false\n' +
        'secret: ${SIPWARDEN_SECRET}\n',
    );
    const sw = start(process.execPath, [BIN, 'run', '--config', good.file], { env: ENV });
    try {
      await waitFor(() => /"event":"listening".*"address":"127\.104\.9\.2"/.test(sw.output()), 'listening');
      writeFileSync(
        good.file,
        `data_dir: ${good.dir}/data\n` +
          'listen: [udp://127.104.9.2:33301]\n' +
          'upstreams:\n  - name: pbx\n    targets: [udp://127.104.9.1:33300]\n    ping: false\n' +
          'default_upstream: ${SIPWARDEN_UPSTREAM}\n',
      );
      sw.signal('SIGHUP');
      await waitFor(() => sw.output().includes('reload-failed'), 'the reload to fail');
      assert.match(sw.output(), /no upstream is named \\"\$\{SIPWARDEN_UPSTREAM\}\\"/);
      assert.doesNotMatch(sw.output(), /TOPSECRET/);
    } finally {
      sw.signal('SIGTERM');
      await sw.exited;
    }
  });
});
