import assert from 'node:assert/strict';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfigFromString } from '../../src/config/index.js';
import { ContextKey, type MessageContext } from '../../src/core/context.js';
import type { KeyedQueue } from '../../src/core/keyed-queue.js';
import type { Module } from '../../src/core/module.js';
import type { EventLogger } from '../../src/log/types.js';
import { Server } from '../../src/server.js';
import type { SipMessage } from '../../src/sip/message.js';
import { parseMessage } from '../../src/sip/parser.js';

/**
 * Asynchronous hooks under load, sipwarden running in this process: a module whose hooks wait
 * a few milliseconds decides per Call-ID while hundreds of calls, their retransmissions and
 * their in-dialog requests cross it. The order of every Call-ID (and of every source, for the
 * source hooks) must hold at the hooks and at the UAS, and no context may see another's data.
 */

const PROXY = '127.110.0.1';
const UAS = '127.110.0.2';
/** Each case has ports of its own, so a socket still closing never meets the next case. */
const PORTS = {
  calls: { proxy: 38510, uas: 38520, phones: 38600 },
  sources: { proxy: 38530, uas: 38540, phones: 38610 },
  failures: { proxy: 38550, uas: 38560, phones: 38620 },
};
const CALLS = 200;
const CALLER_ADDRESSES = 8;
const USER_AGENT = 'User-Agent: Yealink SIP-T46S 66.86.0.15';

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Waits until `done` holds, at most `ms` (the assertions that follow say what was missing). */
async function settled(done: () => boolean, ms: number): Promise<void> {
  for (const end = Date.now() + ms; !done() && Date.now() < end; ) await delay(10);
}

/** FNV-1a: a pseudo-random number that is the same for the same text, run after run. */
function hashOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function udpSocket(): Socket {
  return createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024, sendBufferSize: 4 * 1024 * 1024 });
}

function bound(socket: Socket, address: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, address, () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => socket.close(() => resolve()));
}

/** What a test logger keeps: sipwarden's warnings (a failed hook, a failed message). */
class RecordingLogger implements EventLogger {
  readonly warnings: string[] = [];
  debug(): void {}
  info(): void {}
  warn(obj: object, msg?: string): void {
    this.warnings.push(`${JSON.stringify(obj)} ${msg ?? ''}`);
  }
}

async function startServer(ports: { proxy: number; uas: number }, modules: Module[], dir: string, log: EventLogger) {
  const yaml = [
    `data_dir: ${join(dir, 'data')}`,
    `listen: [udp://${PROXY}:${ports.proxy}]`,
    'upstreams:',
    '  - name: pbx',
    `    targets: [udp://${UAS}:${ports.uas}]`,
    '    ping: false',
    // Hundreds of calls from a few addresses in a second: far more than a phone, not a flood here.
    'guards:',
    '  flood: { max_messages: 100000 }',
    '',
  ].join('\n');
  const config = loadConfigFromString(yaml, 'async-hooks.yaml', {}, { cwd: dir, env: {} });
  return Server.start(config, log, { modules });
}

/** The queues the proxy keeps while hooks wait: empty once everything is done, or contexts leak. */
function pendingKeys(server: Server): number {
  const queues = server.proxy as unknown as { bySource: KeyedQueue; byCallId: KeyedQueue };
  return queues.bySource.size + queues.byCallId.size;
}

interface Bench {
  uas: TestUas;
  server: Server;
  phones: Phone[];
  log: RecordingLogger;
}

/**
 * The UAS, sipwarden with `modules`, a phone on each of `addresses`; runs `body`, checks that
 * nothing is left queued, and closes everything whatever happened.
 */
async function withBench(
  ports: { proxy: number; uas: number; phones: number },
  modules: Module[],
  addresses: string[],
  dir: string,
  body: (bench: Bench) => Promise<void>,
): Promise<void> {
  const log = new RecordingLogger();
  const uas = await TestUas.bind(UAS, ports.uas);
  const phones: Phone[] = [];
  let server: Server | undefined;
  try {
    server = await startServer(ports, modules, dir, log);
    for (const address of addresses) phones.push(await Phone.bind(address, ports.phones));
    await body({ uas, server, phones, log });
    assert.equal(pendingKeys(server), 0, 'work still queued once everything is answered');
  } finally {
    await Promise.all(phones.map((p) => p.close()));
    await server?.stop();
    await uas.close();
  }
}

// ---- a small UAS ----------------------------------------------------------------------------

interface Received {
  callId: string;
  method: string;
  cseq: string;
  branch: string;
  /** The test's marker of the sender and its order (X-Sent header), when present. */
  sent: string;
}

/** Header lines a response copies from its request. */
const COPIED = new Set(['via', 'v', 'from', 'f', 'to', 't', 'call-id', 'i', 'cseq']);

/** A response built from the request's own text, so every Via comes back as it arrived. */
function responseTo(request: string, code: number, reason: string, options: { toTag?: string; copy?: string[] } = {}) {
  const lines = request.split('\r\n');
  const head = lines.slice(1, lines.indexOf(''));
  const copied = new Set([...COPIED, ...(options.copy ?? [])]);
  const kept = head
    .filter((l) => copied.has(l.slice(0, l.indexOf(':')).trim().toLowerCase()))
    .map((l) => {
      const name = l.slice(0, l.indexOf(':')).trim().toLowerCase();
      const isTo = name === 'to' || name === 't';
      return isTo && options.toTag !== undefined && !l.includes(';tag=') ? `${l};tag=${options.toTag}` : l;
    });
  return [`SIP/2.0 ${code} ${reason}`, ...kept, 'Content-Length: 0', '', ''].join('\r\n');
}

/** Answers INVITE with 100 then 200 (To tag, Record-Route copied), BYE and OPTIONS with 200, ACK not at all. */
class TestUas {
  readonly requests: Received[] = [];
  unparsed = 0;
  private constructor(private readonly socket: Socket) {
    socket.on('message', (data, from) => this.onMessage(data, from));
  }

  static async bind(address: string, port: number): Promise<TestUas> {
    return new TestUas(await bound(udpSocket(), address, port));
  }

  private onMessage(data: Buffer, from: RemoteInfo): void {
    let msg: SipMessage;
    try {
      msg = parseMessage(data);
    } catch {
      this.unparsed++;
      return;
    }
    if (!msg.isRequest) return;
    this.requests.push({
      callId: msg.callId,
      method: msg.method,
      cseq: `${msg.cseq.seq} ${msg.cseq.method}`,
      branch: msg.topVia.branch ?? '',
      sent: msg.header('X-Sent') ?? '',
    });
    const text = data.toString('latin1');
    const reply = (r: string) => this.socket.send(r, from.port, from.address);
    if (msg.method === 'INVITE') {
      reply(responseTo(text, 100, 'Trying'));
      reply(
        responseTo(text, 200, 'OK', {
          toTag: `uas${hashOf(msg.callId).toString(16)}`,
          copy: ['record-route'],
        }).replace('Content-Length: 0', 'Contact: <sip:100@pbx.example.com>\r\nContent-Length: 0'),
      );
    } else if (msg.method !== 'ACK') {
      reply(responseTo(text, 200, 'OK'));
    }
  }

  /** The requests a call sent (by its X-Sent marker: topology hiding changes the Call-ID the UAS sees). */
  ofCall(callId: string): Received[] {
    return this.requests.filter((r) => r.sent === callId);
  }

  close(): Promise<void> {
    return closed(this.socket);
  }
}

// ---- phones on the outside ------------------------------------------------------------------

/** One UDP socket on an outside address, shared by many calls; responses sorted by Call-ID. */
class Phone {
  private readonly responses = new Map<string, SipMessage[]>();
  private readonly listeners = new Map<string, () => void>();
  private constructor(
    private readonly socket: Socket,
    readonly address: string,
    readonly port: number,
  ) {
    socket.on('message', (data) => {
      let msg: SipMessage;
      try {
        msg = parseMessage(data);
      } catch {
        return;
      }
      if (msg.isRequest) return;
      const list = this.responses.get(msg.callId) ?? [];
      list.push(msg);
      this.responses.set(msg.callId, list);
      this.listeners.get(msg.callId)?.();
    });
  }

  static async bind(address: string, port: number): Promise<Phone> {
    return new Phone(await bound(udpSocket(), address, port), address, port);
  }

  send(text: string, port: number): void {
    this.socket.send(text, port, PROXY);
  }

  received(callId: string): SipMessage[] {
    return this.responses.get(callId) ?? [];
  }

  /** The first response of this Call-ID that `match` accepts, or undefined after `timeoutMs`. */
  waitFor(callId: string, match: (m: SipMessage) => boolean, timeoutMs: number): Promise<SipMessage | undefined> {
    const found = () => this.received(callId).find(match);
    const now = found();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise((resolve) => {
      const done = (m: SipMessage | undefined) => {
        clearTimeout(timer);
        this.listeners.delete(callId);
        resolve(m);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      this.listeners.set(callId, () => {
        const m = found();
        if (m !== undefined) done(m);
      });
    });
  }

  close(): Promise<void> {
    return closed(this.socket);
  }
}

interface RequestSpec {
  method: string;
  uri: string;
  callId: string;
  cseq: number;
  cseqMethod?: string;
  branch: string;
  fromTag: string;
  toTag?: string;
  route?: string[];
  extra?: string[];
}

function sipRequest(phone: Phone, r: RequestSpec): string {
  return [
    `${r.method} ${r.uri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${phone.address}:${phone.port};branch=${r.branch};rport`,
    'Max-Forwards: 70',
    ...(r.route ?? []).map((v) => `Route: ${v}`),
    `From: "Desk 200" <sip:200@example.com>;tag=${r.fromTag}`,
    `To: <sip:100@example.com>${r.toTag === undefined ? '' : `;tag=${r.toTag}`}`,
    `Call-ID: ${r.callId}`,
    `CSeq: ${r.cseq} ${r.cseqMethod ?? r.method}`,
    `Contact: <sip:200@${phone.address}:${phone.port}>`,
    USER_AGENT,
    ...(r.extra ?? [`X-Sent: ${r.callId}`]),
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

const isFinalTo = (method: string) => (m: SipMessage) => m.status >= 200 && m.cseq.method === method;

function toTagOf(m: SipMessage): string | undefined {
  return /;\s*tag=([^;>\s]+)/i.exec(m.header('To') ?? '')?.[1];
}

/** The route set a UAC takes from a 2xx: the Record-Route entries, last first. */
function routeSetOf(m: SipMessage): string[] {
  return m
    .headerLines('Record-Route')
    .flatMap((v) => v.split(/,(?=\s*<)/))
    .map((v) => v.trim())
    .reverse();
}

// ---- the case of slow Call-ID hooks ---------------------------------------------------------

/** The call's number, from its Call-ID `call-<n>@...`. */
function callNumber(callId: string): number {
  return Number(/^call-(\d+)@/.exec(callId)?.[1] ?? -1);
}

const refused = (callId: string) => callNumber(callId) % 3 === 0;

/** What the slow module saw. */
interface SlowRecord {
  /** Per Call-ID, `METHOD cseq` of each request as it entered onRequestFromOutside. */
  entered: Map<string, string[]>;
  failures: string[];
  /** Hooks running at once, and the most seen (the hooks do overlap). */
  running: number;
  mostRunning: number;
  toInside: number;
  toOutside: number;
}

function slowModule(): { module: Module; seen: SlowRecord } {
  const seen: SlowRecord = { entered: new Map(), failures: [], running: 0, mostRunning: 0, toInside: 0, toOutside: 0 };
  const CALL = new ContextKey<string>('test.call-id');
  const firstSaw = new WeakMap<MessageContext, string>();
  /** A wait of 0 to `max` ms from the Call-ID and the message's rank in it: later ones often wait less. */
  const waitFor = async (ctx: MessageContext, rank: number, max: number) => {
    seen.running++;
    seen.mostRunning = Math.max(seen.mostRunning, seen.running);
    await delay(hashOf(`${ctx.msg.callId}#${rank}`) % (max + 1));
    seen.running--;
  };
  const module: Module = {
    name: 'slow-test',
    async onRequestFromOutside(ctx) {
      const callId = ctx.msg.callId;
      const list = seen.entered.get(callId) ?? [];
      list.push(`${ctx.msg.method} ${ctx.msg.cseq.seq}`);
      seen.entered.set(callId, list);
      ctx.set(CALL, callId);
      firstSaw.set(ctx, callId);
      await waitFor(ctx, list.length, 25);
      if (refused(callId)) ctx.reply({ code: 403, reason: 'Slow no' }, 'none');
    },
    async onRequestToInside(ctx) {
      seen.toInside++;
      const before = firstSaw.get(ctx);
      await waitFor(ctx, 100 + seen.toInside, 8);
      const callId = ctx.msg.callId;
      if (ctx.get(CALL) !== callId) seen.failures.push(`slot ${String(ctx.get(CALL))} on ${callId}`);
      if (before !== callId) seen.failures.push(`first hook saw ${String(before)}, second ${callId}`);
      if (refused(callId)) seen.failures.push(`refused ${callId} reached onRequestToInside`);
    },
    // Responses wait too: the 100, the 200s and the BYE's 200 must still reach the phone in order.
    async onResponseToOutside(ctx) {
      seen.toOutside++;
      if (ctx.get(CALL) !== undefined) seen.failures.push(`response context holds ${String(ctx.get(CALL))}`);
      await waitFor(ctx, 1000 + seen.toOutside, 8);
    },
  };
  return { module, seen };
}

interface CallOutcome {
  callId: string;
  /** Final answer to the INVITE, 0 when none came. */
  inviteFinal: number;
  /** Final answer to the BYE (passed calls), 0 when none came. */
  byeFinal: number;
}

/** INVITE and two retransmissions at once; on 2xx ACK and BYE back to back; on a refusal its ACK. */
async function runCall(phone: Phone, n: number, proxyPort: number): Promise<CallOutcome> {
  const callId = `call-${n}@async.test`;
  const fromTag = `f${n}`;
  const inviteBranch = `z9hG4bK-inv-${n}`;
  const invite = sipRequest(phone, {
    method: 'INVITE',
    uri: 'sip:100@example.com',
    callId,
    cseq: 1,
    branch: inviteBranch,
    fromTag,
  });
  for (let i = 0; i < 3; i++) phone.send(invite, proxyPort);
  const final = await phone.waitFor(callId, isFinalTo('INVITE'), 5000);
  if (final === undefined) return { callId, inviteFinal: 0, byeFinal: 0 };
  const toTag = toTagOf(final);
  if (final.status !== 200) {
    // A non-2xx is acknowledged in its own transaction (same branch).
    phone.send(
      sipRequest(phone, {
        method: 'ACK',
        uri: 'sip:100@example.com',
        callId,
        cseq: 1,
        branch: inviteBranch,
        fromTag,
        toTag,
      }),
      proxyPort,
    );
    return { callId, inviteFinal: final.status, byeFinal: 0 };
  }
  const inDialog = { uri: 'sip:100@pbx.example.com', callId, fromTag, toTag, route: routeSetOf(final) };
  // Back to back: the hook may let the BYE wait less than the ACK, the order must hold anyway.
  phone.send(sipRequest(phone, { ...inDialog, method: 'ACK', cseq: 1, branch: `z9hG4bK-ack-${n}` }), proxyPort);
  phone.send(sipRequest(phone, { ...inDialog, method: 'BYE', cseq: 2, branch: `z9hG4bK-bye-${n}` }), proxyPort);
  const bye = await phone.waitFor(callId, isFinalTo('BYE'), 5000);
  return { callId, inviteFinal: 200, byeFinal: bye?.status ?? 0 };
}

function callerAddress(i: number): string {
  return `127.110.1.${1 + (i % CALLER_ADDRESSES)}`;
}

// ---- the case of a slow source hook ---------------------------------------------------------

const SOURCES = 4;
const PER_SOURCE = 60;

function sourceAddress(i: number): string {
  return `127.110.2.${1 + i}`;
}

/** The `X-Sent: <address> <n>` marker of a raw message, or undefined (a keep-alive). */
function sentMarker(data: Buffer): string | undefined {
  return /\r\nX-Sent: ([^\r]+)\r\n/.exec(data.toString('latin1'))?.[1];
}

function slowSourceModule(): { module: Module; onSource: Map<string, string[]>; parsed: Map<string, string[]> } {
  const onSource = new Map<string, string[]>();
  const parsed = new Map<string, string[]>();
  const push = (map: Map<string, string[]>, source: string, marker: string) => {
    const list = map.get(source) ?? [];
    list.push(marker);
    map.set(source, list);
  };
  const module: Module = {
    name: 'slow-source-test',
    async onSource(ctx) {
      const marker = sentMarker(ctx.data);
      if (marker !== undefined) push(onSource, ctx.source.address, marker);
      // Before parsing, no Call-ID: the wait comes from the bytes, so later messages often wait less.
      await delay(hashOf(ctx.data.toString('latin1')) % 11);
    },
    onRequestFromOutside(ctx) {
      push(parsed, ctx.source.address, ctx.msg.header('X-Sent') ?? '?');
    },
  };
  return { module, onSource, parsed };
}

/** The markers `address 0` .. `address count-1`, in send order. */
function sentOrder(address: string, count: number): string[] {
  return Array.from({ length: count }, (_, k) => `${address} ${k}`);
}

// ---- the case of failing hooks --------------------------------------------------------------

const FAILING_MESSAGES = 25;
/** How message k's hooks fail, by k % 5 (0: they do not). */
const FAILURES = ['', 'source-throw', 'source-reject', 'call-throw', 'call-reject'] as const;

/** Every way a hook can fail: throwing, or rejecting after a wait; on keep-alives too. */
function failingModule(): { module: Module; keepAlives: () => number } {
  let keepAlives = 0;
  const failure = (what: string) => new Error(`test hook failed: ${what}`);
  const later = (ms: number, what: string) =>
    delay(ms).then(() => {
      throw failure(what);
    });
  const module: Module = {
    name: 'failing-test',
    onSource(ctx) {
      const how = /\r\nX-Fail: ([^\r]*)\r\n/.exec(ctx.data.toString('latin1'))?.[1];
      if (how === undefined) {
        // A keep-alive (no headers): one throws, the next rejects.
        keepAlives++;
        if (keepAlives % 2 === 1) throw failure('keep-alive throw');
        return later(2, 'keep-alive reject');
      }
      if (how === 'source-throw') throw failure(how);
      if (how === 'source-reject') return later(3, how);
      return delay(hashOf(ctx.data.toString('latin1')) % 6);
    },
    onRequestFromOutside(ctx) {
      const how = ctx.msg.header('X-Fail');
      if (how === 'call-throw') throw failure(how);
      if (how === 'call-reject') return later(4, how);
      return delay(hashOf(ctx.msg.header('X-Sent') ?? '') % 6);
    },
  };
  return { module, keepAlives: () => keepAlives };
}

// ---------------------------------------------------------------------------------------------

describe('asynchronous hooks keep the order of each Call-ID and each source', () => {
  let dir = '';
  const troubles: unknown[] = [];
  const onTrouble = (err: unknown) => troubles.push(err);

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sipwarden-async-'));
    // An unhandled rejection or exception from a hook would stop a real sipwarden.
    process.on('unhandledRejection', onTrouble);
    process.on('uncaughtException', onTrouble);
  });

  after(() => {
    process.off('unhandledRejection', onTrouble);
    process.off('uncaughtException', onTrouble);
    rmSync(dir, { recursive: true, force: true });
  });

  it('200 concurrent calls with retransmissions through slow Call-ID hooks', { timeout: 60_000 }, async () => {
    const ports = PORTS.calls;
    const { module, seen } = slowModule();
    const addresses = Array.from({ length: CALLER_ADDRESSES }, (_, i) => callerAddress(i));
    await withBench(ports, [module], addresses, join(dir, 'calls'), async ({ uas, phones, log }) => {
      const started = Date.now();
      const outcomes = await Promise.all(
        Array.from({ length: CALLS }, (_, n) => runCall(phones[n % CALLER_ADDRESSES]!, n, ports.proxy)),
      );
      const elapsed = Date.now() - started;
      const passed = CALLS - Math.ceil(CALLS / 3);
      // The refused calls' ACKs (sent on their first 403) reach the hook, late 403s settle.
      const hooked = () => [...seen.entered.values()].flat().length;
      await settled(() => hooked() === CALLS * 5 - passed, 5000);
      await delay(50);

      assert.ok(elapsed < 20_000, `the calls took ${elapsed} ms`);
      assert.deepEqual(seen.failures, [], 'a hook saw another message context');
      assert.ok(seen.mostRunning > 10, `hooks overlapped (${seen.mostRunning} at once)`);
      let refusedCalls = 0;
      for (const [n, o] of outcomes.entries()) {
        const phone = phones[n % CALLER_ADDRESSES]!;
        const answers = phone.received(o.callId);
        const entered = seen.entered.get(o.callId);
        if (refused(o.callId)) {
          refusedCalls++;
          assert.equal(o.inviteFinal, 403, `${o.callId}: INVITE answered ${o.inviteFinal}`);
          const codes = answers.map((m) => m.status);
          assert.ok(
            codes.every((c) => c === 403),
            `${o.callId}: answers ${codes.join(',')}`,
          );
          assert.equal(answers[0]!.reason, 'Slow no');
          assert.deepEqual(uas.ofCall(o.callId), [], `${o.callId} reached the UAS`);
          assert.deepEqual(entered, ['INVITE 1', 'INVITE 1', 'INVITE 1', 'ACK 1'], `${o.callId} at the hook`);
        } else {
          assert.equal(o.inviteFinal, 200, `${o.callId}: INVITE answered ${o.inviteFinal}`);
          assert.equal(o.byeFinal, 200, `${o.callId}: BYE answered ${o.byeFinal}`);
          assert.ok(
            answers.every((m) => m.status !== 403),
            `${o.callId} was refused`,
          );
          // Each INVITE's 100 and 200 as the UAS sent them (the three may interleave with nothing else).
          assert.deepEqual(
            answers.map((m) => `${m.status} ${m.cseq.method}`),
            ['100 INVITE', '200 INVITE', '100 INVITE', '200 INVITE', '100 INVITE', '200 INVITE', '200 BYE'],
            `${o.callId} answers at the phone`,
          );
          const atUas = uas.ofCall(o.callId).map((r) => `${r.method} ${r.cseq}`);
          assert.deepEqual(
            atUas,
            ['INVITE 1 INVITE', 'INVITE 1 INVITE', 'INVITE 1 INVITE', 'ACK 1 ACK', 'BYE 2 BYE'],
            `${o.callId} at the UAS`,
          );
          // The three INVITEs are one transaction: sipwarden forwards them with one branch.
          const branches = new Set(
            uas
              .ofCall(o.callId)
              .filter((r) => r.method === 'INVITE')
              .map((r) => r.branch),
          );
          assert.equal(branches.size, 1, `${o.callId}: INVITE branches ${[...branches].join(' ')}`);
          assert.deepEqual(entered, ['INVITE 1', 'INVITE 1', 'INVITE 1', 'ACK 1', 'BYE 2'], `${o.callId} at the hook`);
        }
      }
      assert.equal(refusedCalls, CALLS - passed);
      // Counts are bounded: exactly the requests sent went through the hooks, nothing more.
      assert.equal(hooked(), refusedCalls * 4 + passed * 5);
      assert.equal(seen.toInside, passed * 5);
      assert.equal(seen.toOutside, passed * 7);
      assert.equal(uas.requests.length, passed * 5);
      assert.equal(uas.unparsed, 0);
      assert.deepEqual(log.warnings, []);
      assert.deepEqual(troubles, []);
    });
  });

  it('a slow source hook keeps the order of each source', { timeout: 30_000 }, async () => {
    const ports = PORTS.sources;
    const { module, onSource, parsed } = slowSourceModule();
    const addresses = Array.from({ length: SOURCES }, (_, i) => sourceAddress(i));
    await withBench(ports, [module], addresses, join(dir, 'sources'), async ({ uas, phones, log }) => {
      // Every message its own Call-ID: only the source's queue keeps them in order.
      for (let k = 0; k < PER_SOURCE; k++) {
        for (const phone of phones) {
          const callId = `src-${phone.address}-${k}@async.test`;
          const options = sipRequest(phone, {
            method: 'OPTIONS',
            uri: 'sip:100@example.com',
            callId,
            cseq: 1,
            branch: `z9hG4bK-opt-${hashOf(callId).toString(16)}-${k}`,
            fromTag: `o${k}`,
            extra: [`X-Sent: ${phone.address} ${k}`],
          });
          phone.send(options, ports.proxy);
          // Keep-alives between them meet the source hook too, without waiting for it.
          if (k % 10 === 5) phone.send('\r\n\r\n', ports.proxy);
        }
      }
      const answered = await Promise.all(
        phones.flatMap((phone) =>
          Array.from({ length: PER_SOURCE }, (_, k) =>
            phone.waitFor(`src-${phone.address}-${k}@async.test`, isFinalTo('OPTIONS'), 5000),
          ),
        ),
      );
      assert.ok(
        answered.every((m) => m?.status === 200),
        `${answered.filter((m) => m?.status !== 200).length} OPTIONS not answered 200`,
      );
      for (const phone of phones) {
        const want = sentOrder(phone.address, PER_SOURCE);
        assert.deepEqual(onSource.get(phone.address), want, `${phone.address} at the source hook`);
        assert.deepEqual(parsed.get(phone.address), want, `${phone.address} after parsing`);
        const atUas = uas.requests.map((r) => r.sent).filter((s) => s.startsWith(`${phone.address} `));
        assert.deepEqual(atUas, want, `${phone.address} at the UAS`);
      }
      assert.deepEqual(log.warnings, []);
      assert.deepEqual(troubles, []);
    });
  });

  it('a hook that throws or rejects drops its message, never the process nor the queue', {
    timeout: 30_000,
  }, async () => {
    const ports = PORTS.failures;
    const { module, keepAlives } = failingModule();
    await withBench(ports, [module], ['127.110.3.1'], join(dir, 'failures'), async ({ uas, phones, log }) => {
      const phone = phones[0]!;
      const callId = 'failing@async.test';
      // One Call-ID and one source: both queues carry every message, failed ones included.
      for (let k = 0; k < FAILING_MESSAGES; k++) {
        const how = FAILURES[k % FAILURES.length]!;
        const options = sipRequest(phone, {
          method: 'OPTIONS',
          uri: 'sip:100@example.com',
          callId,
          cseq: k + 1,
          branch: `z9hG4bK-fail-${k}`,
          fromTag: 'fail',
          extra: [`X-Sent: fail ${k}`, `X-Fail: ${how}`],
        });
        phone.send(options, ports.proxy);
        if (k % 5 === 2) phone.send('\r\n\r\n', ports.proxy);
      }
      const passing = Array.from({ length: FAILING_MESSAGES }, (_, k) => k).filter((k) => k % FAILURES.length === 0);
      const last = passing.at(-1)! + 1;
      const answer = await phone.waitFor(callId, (m) => m.status === 200 && m.cseq.seq === last, 5000);
      assert.equal(answer?.status, 200, 'the last message that passes is answered');
      const failedPerKind = FAILING_MESSAGES / FAILURES.length;
      // The failed ones after it settle (the slowest rejects after 4 ms).
      await settled(() => log.warnings.length >= failedPerKind * 4 + keepAlives(), 5000);
      await delay(20);
      assert.deepEqual(
        uas.requests.map((r) => r.sent),
        passing.map((k) => `fail ${k}`),
        'the UAS got exactly the messages whose hooks did not fail, in order',
      );
      assert.deepEqual(
        phone.received(callId).map((m) => m.cseq.seq),
        passing.map((k) => k + 1),
        'only those were answered',
      );
      const warned = (event: string) => log.warnings.filter((w) => w.includes(`"event":"${event}"`)).length;
      assert.equal(keepAlives(), 5);
      assert.equal(warned('hook-failed'), failedPerKind * 2 + keepAlives(), log.warnings.join('\n'));
      assert.equal(warned('message-failed'), failedPerKind * 2, log.warnings.join('\n'));
      assert.equal(log.warnings.length, failedPerKind * 4 + keepAlives());
      assert.deepEqual(troubles, [], 'a hook failure escaped');
    });
  });
});
