import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MemoryBanStore } from '../../src/store/memory.js';
import { openBanStore } from '../../src/store/open.js';
import { SqliteBanStore } from '../../src/store/sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'sipwarden-open-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('openBanStore', () => {
  it('opens the SQLite file of the configuration, creating it, with the cap', () => {
    const path = join(dir, 'data', 'sipwarden.db');
    const store = openBanStore({ type: 'sqlite', path }, 2);
    try {
      assert.ok(store instanceof SqliteBanStore);
      assert.ok(statSync(path).isFile());
      const now = Date.now();
      for (let i = 1; i <= 3; i++) {
        store.add({ target: `192.0.2.${i}`, guard: 'flood', reason: 'r', created: now, expires: now + i * 1000 });
      }
      assert.equal(store.size, 2);
    } finally {
      store.close();
    }
  });

  it('opens a memory store that touches no file', () => {
    const path = join(dir, 'never', 'sipwarden.db');
    const store = openBanStore({ type: 'memory', path }, 10);
    assert.ok(store instanceof MemoryBanStore);
    assert.throws(() => statSync(join(dir, 'never')), /ENOENT/);
    store.close();
  });

  it('passes background errors to onError', () => {
    const errors: Error[] = [];
    const store = openBanStore({ type: 'memory', path: '' }, 10, { onError: (e) => errors.push(e) });
    store.subscribe(() => {
      throw new Error('boom');
    });
    store.add({ target: '192.0.2.1', guard: 'flood', reason: 'r', created: Date.now(), expires: Date.now() + 1000 });
    assert.equal(errors[0]?.message, 'boom');
    store.close();
  });
});
