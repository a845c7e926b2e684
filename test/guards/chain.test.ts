import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SecurityEvent } from '../../src/core/events.js';
import { type DecisionEvent, EventBus } from '../../src/core/events.js';
import type { Source, Verdict } from '../../src/core/verdict.js';
import { AclGuard } from '../../src/guards/acl/acl.js';
import { GuardChain } from '../../src/guards/chain.js';
import type { Guard } from '../../src/guards/types.js';
import { parseMessage } from '../../src/sip/parser.js';
import { options } from '../helpers/udp.js';

const SRC: Source = { transport: 'udp', address: '192.0.2.7', port: 5062, family: 4 };
const quiet = { info: () => {}, warn: () => {} };

/** A guard that answers a fixed verdict and counts its calls. */
class Fixed implements Guard {
  calls = 0;
  constructor(
    readonly name: string,
    private readonly verdict: Verdict,
    phase: 'source' | 'message',
  ) {
    if (phase === 'source') this.checkSource = () => this.answer();
    else this.checkMessage = () => this.answer();
  }
  checkSource?: () => Verdict;
  checkMessage?: () => Verdict;
  private answer(): Verdict {
    this.calls++;
    return this.verdict;
  }
}

function collect(events: EventBus): SecurityEvent[] {
  const seen: SecurityEvent[] = [];
  // Each decision as the guard's SecurityEvent, without the bus's `kind` and `origin`.
  events.onDecision((e) => {
    const { kind: _kind, origin: _origin, ...decision } = e as DecisionEvent & { origin?: string };
    seen.push(decision);
  });
  return seen;
}

const msg = parseMessage(Buffer.from(options('192.0.2.7', 5062, 'c1')));

describe('guard chain', () => {
  it('runs source guards, then message guards, and stops at the first blocking verdict', () => {
    const events = new EventBus();
    const seen = collect(events);
    const a = new Fixed('a', { action: 'pass' }, 'source');
    const b = new Fixed('b', { action: 'drop', rule: 'r1', detail: 'x' }, 'message');
    const c = new Fixed('c', { action: 'drop', rule: 'r2' }, 'message');
    const chain = new GuardChain(
      [
        { guard: b, mode: 'enforce' },
        { guard: a, mode: 'enforce' },
        { guard: c, mode: 'enforce' },
      ],
      events,
      undefined,
      () => 1000,
    );
    assert.equal(chain.checkSource(SRC, 100).verdict.action, 'pass');
    const d = chain.checkMessage(msg, SRC);
    assert.equal(d.verdict.action, 'drop');
    assert.equal(d.guard, 'b');
    assert.equal(c.calls, 0, 'the chain stopped at b');
    assert.equal(seen.length, 1);
    assert.deepEqual(
      { ...seen[0], source: seen[0]!.source.address },
      {
        time: 1000,
        source: '192.0.2.7',
        guard: 'b',
        rule: 'r1',
        action: 'drop',
        monitor: false,
        detail: 'x',
        ban: undefined,
        method: 'OPTIONS',
        note: undefined,
      },
    );
  });

  it('in monitor mode reports the verdict and goes on', () => {
    const events = new EventBus();
    const seen = collect(events);
    const watcher = new Fixed('w', { action: 'ban', rule: 'density', duration: 60_000, reason: 'flood' }, 'source');
    const next = new Fixed('n', { action: 'pass' }, 'source');
    const chain = new GuardChain(
      [
        { guard: watcher, mode: 'monitor' },
        { guard: next, mode: 'enforce' },
      ],
      events,
      undefined,
      () => 5000,
    );
    assert.equal(chain.checkSource(SRC, 10).verdict.action, 'pass');
    assert.equal(next.calls, 1);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.monitor, true);
    assert.deepEqual(seen[0]!.ban, { target: '192.0.2.7', until: 65_000, reason: 'flood' });
  });

  it('skips guards that are off, and accept admits without the rest', () => {
    const events = new EventBus();
    const off = new Fixed('off', { action: 'drop', rule: 'x' }, 'source');
    const allow = new AclGuard(
      {
        mode: 'enforce',
        allow: ['192.0.2.0/24'],
        deny: [],
        allowFiles: [],
        denyFiles: [],
        default: 'allow',
        action: 'drop',
      },
      { code: 403, reason: 'Forbidden' },
      quiet,
    );
    const after = new Fixed('after', { action: 'drop', rule: 'y' }, 'source');
    const chain = new GuardChain(
      [
        { guard: off, mode: 'off' },
        { guard: allow, mode: 'enforce' },
        { guard: after, mode: 'enforce' },
      ],
      events,
      undefined,
    );
    assert.equal(chain.checkSource(SRC, 10).verdict.action, 'accept');
    assert.equal(off.calls, 0);
    assert.equal(after.calls, 0);
    allow.close();
  });

  it('acl: deny wins over allow, default deny admits only allow-listed sources', () => {
    const acl = new AclGuard(
      {
        mode: 'enforce',
        allow: ['192.0.2.0/24', '2001:db8::/32'],
        deny: ['192.0.2.7'],
        allowFiles: [],
        denyFiles: [],
        default: 'deny',
        action: 'drop',
      },
      { code: 403, reason: 'Forbidden' },
      quiet,
    );
    assert.equal(acl.checkSource(SRC).action, 'drop');
    assert.equal(acl.checkSource({ ...SRC, address: '192.0.2.8' }).action, 'accept');
    assert.equal(acl.checkSource({ ...SRC, address: '2001:db8:5::1', family: 6 }).action, 'accept');
    const other = acl.checkSource({ ...SRC, address: '198.51.100.1' });
    assert.equal(other.action, 'drop');
    assert.equal(other.action === 'drop' && other.rule, 'not-allowed');
    acl.close();
  });

  it('a listener that throws does not stop the others', () => {
    const events = new EventBus();
    const errors: unknown[] = [];
    events.onListenerError = (e) => errors.push(e);
    events.onDecision(() => {
      throw new Error('boom');
    });
    const seen = collect(events);
    const chain = new GuardChain(
      [{ guard: new Fixed('g', { action: 'drop', rule: 'r' }, 'source'), mode: 'enforce' }],
      events,
      undefined,
    );
    chain.checkSource(SRC, 1);
    assert.equal(seen.length, 1);
    assert.equal(errors.length, 1);
  });
});
