import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ArrivalClock } from '../../src/core/clock.js';

describe('ArrivalClock: one read gives the wall-clock and the fine arrival time', () => {
  it('keeps to Date.now() within a millisecond, and its fine time to performance.now()', async () => {
    const clock = new ArrivalClock();
    for (let i = 0; i < 50; i++) {
      const before = Date.now();
      const beforeFine = performance.now();
      const time = clock.read();
      const after = Date.now();
      assert.ok(Number.isInteger(time), String(time));
      assert.ok(time >= before - 1 && time <= after + 1, `${before} <= ${time} <= ${after}`);
      assert.ok(clock.fine >= beforeFine && clock.fine <= performance.now());
      await new Promise((r) => setTimeout(r, i % 10 === 0 ? 60 : 1));
    }
  });
});
