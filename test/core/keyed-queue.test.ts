import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyedQueue } from '../../src/core/keyed-queue.js';

/** A promise and the function that settles it, for tasks the test releases by hand. */
function gate(): { promise: Promise<void>; open: () => void; fail: (err: Error) => void } {
  let open!: () => void;
  let fail!: (err: Error) => void;
  const promise = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Waits until every queue has drained (bounded). */
async function drained(q: KeyedQueue): Promise<void> {
  for (let i = 0; i < 200 && q.size !== 0; i++) await delay(5);
  assert.equal(q.size, 0, 'queue still has work pending');
}

describe('KeyedQueue', () => {
  it('runs a synchronous task at once when nothing is pending, with no key left behind', () => {
    const q = new KeyedQueue(() => assert.fail('no error expected'));
    const ran: string[] = [];
    q.run('a', () => {
      ran.push('a');
      return undefined;
    });
    assert.deepEqual(ran, ['a'], 'ran before run() returned');
    assert.equal(q.size, 0);
  });

  it('keeps the order of one key whatever each task waits, synchronous ones included', async () => {
    const q = new KeyedQueue(() => assert.fail('no error expected'));
    const started: number[] = [];
    const finished: number[] = [];
    // Earlier tasks wait longer: without the queue, later ones would overtake them.
    const waits = [30, 0, 20, -1, 5, -1, 0, 10];
    for (const [i, ms] of waits.entries()) {
      q.run('call-1', () => {
        started.push(i);
        if (ms < 0) {
          finished.push(i);
          return undefined;
        }
        return delay(ms).then(() => {
          finished.push(i);
        });
      });
    }
    // Only the first has started: the rest wait behind it, the synchronous ones too.
    assert.deepEqual(started, [0]);
    assert.equal(q.size, 1);
    await drained(q);
    const order = waits.map((_, i) => i);
    assert.deepEqual(started, order);
    assert.deepEqual(finished, order);
  });

  it('never makes one key wait for another', async () => {
    const q = new KeyedQueue(() => assert.fail('no error expected'));
    const slow = gate();
    const ran: string[] = [];
    q.run('a', () => slow.promise.then(() => void ran.push('a1')));
    q.run('a', () => void ran.push('a2'));
    q.run('b', () => void ran.push('b1'));
    q.run('c', () => delay(1).then(() => void ran.push('c1')));
    q.run('b', () => void ran.push('b2'));
    // b runs at once although a waits; c waits on its own.
    assert.deepEqual(ran, ['b1', 'b2']);
    await delay(10);
    assert.deepEqual(ran, ['b1', 'b2', 'c1']);
    slow.open();
    await drained(q);
    assert.deepEqual(ran, ['b1', 'b2', 'c1', 'a1', 'a2']);
  });

  it('reports a failing task (thrown or rejected) and goes on with the queue', async () => {
    const errors: unknown[] = [];
    const q = new KeyedQueue((err) => errors.push(err));
    const first = gate();
    const ran: string[] = [];
    q.run('a', () => first.promise);
    q.run('a', () => {
      throw new Error('thrown while queued');
    });
    q.run('a', () => Promise.reject(new Error('rejected while queued')));
    q.run('a', () => void ran.push('after'));
    first.fail(new Error('first rejected'));
    await drained(q);
    assert.deepEqual(ran, ['after']);
    assert.deepEqual(
      errors.map((e) => (e as Error).message),
      ['first rejected', 'thrown while queued', 'rejected while queued'],
    );
    // A synchronous throw with nothing pending is reported too, and the key is free again.
    q.run('b', () => {
      throw new Error('thrown at once');
    });
    assert.equal((errors.at(-1) as Error).message, 'thrown at once');
    assert.equal(q.size, 0);
    q.run('b', () => void ran.push('b'));
    assert.deepEqual(ran, ['after', 'b']);
  });

  it('takes tasks added while the key drains behind the ones already queued', async () => {
    const q = new KeyedQueue(() => assert.fail('no error expected'));
    const ran: number[] = [];
    q.run('a', () => delay(5).then(() => void ran.push(1)));
    q.run('a', () => {
      ran.push(2);
      // Added while draining: after 3, which was queued before it.
      q.run('a', () => void ran.push(4));
      return undefined;
    });
    q.run('a', () => delay(2).then(() => void ran.push(3)));
    await drained(q);
    assert.deepEqual(ran, [1, 2, 3, 4]);
  });
});
