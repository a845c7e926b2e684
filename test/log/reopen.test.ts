import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { waitFor } from '../helpers/process.js';
import { startSipwarden } from '../helpers/sipwarden.js';

/** logrotate without copytruncate: rename the file, SIGUSR1, new lines in a new file at the path. */
describe('log.file reopened on SIGUSR1', () => {
  it('a running sipwarden writes to a new file after the old one was renamed', async () => {
    const sw = await startSipwarden(
      `log: { file: log/sipwarden.log }
listen: [udp://127.114.0.1:40610]
upstreams:
  - name: pbx
    targets: [udp://127.114.0.1:40611]
    ping: false
`,
      { listeners: 1 },
    );
    try {
      const path = join(sw.dir, 'log', 'sipwarden.log');
      const rotated = `${path}.1`;
      await waitFor(() => existsSync(path) && readFileSync(path, 'utf8').includes('"listening"'), 'the first lines');
      renameSync(path, rotated);
      sw.run.signal('SIGUSR1');
      await waitFor(() => existsSync(path), 'a new file at the same path');
      await waitFor(() => readFileSync(path, 'utf8').includes('"log-reopened"'), 'the reopen line in the new file');
      assert.equal(statSync(path).mode & 0o777, 0o600, 'created private');
      sw.run.signal('SIGHUP');
      await waitFor(() => readFileSync(path, 'utf8').includes('"reloaded"'), 'a later line in the new file');
      const old = readFileSync(rotated, 'utf8');
      assert.match(old, /"listening"/);
      assert.doesNotMatch(old, /"log-reopened"|"reloaded"/, 'nothing more goes to the renamed file');
      assert.ok(
        sw.logs().some((l) => l.event === 'reloaded'),
        'standard output keeps every line',
      );
    } finally {
      assert.equal(await sw.stop(), 0);
    }
  });
});
