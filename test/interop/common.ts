/**
 * What the interop suites share: the rows of the matrix (transport x topology hiding), real
 * baresip phones registered through sipwarden, the checks a person would make at the end of
 * each case (audio flowed, no phone left ringing or in a call), and the scan of everything
 * sipwarden sent to the phones for anything of the inside.
 *
 * Addresses: the outside is 127.106.x.x (row n: sipwarden 127.106.n.1:35000 over UDP and TCP,
 * phones 127.106.n.2-4, an outside sipp 127.106.n.9), the inside 127.107.x.x. Ports 35000-36999.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { parseMessage } from '../../src/sip/parser.js';
import { Baresip } from '../helpers/baresip.js';
import { type Capture, captureLoopback } from '../helpers/capture.js';
import { type SipwardenInstance, startSipwarden } from '../helpers/sipwarden.js';
import type { UdpPeer } from '../helpers/udp.js';

/** The phones' domain (an alias of the upstream). */
export const DOMAIN = 'interop.test';
export const SW_PORT = 35000;

export interface Row {
  /** Shown in test names. */
  name: string;
  /** Between the phones and sipwarden. */
  transport: 'udp' | 'tcp';
  /** Between sipwarden and the upstream. */
  upstream: 'udp' | 'tcp';
  hide: boolean;
  /** Third octet of the row's addresses (127.106.n.x); distinct per row and suite. */
  net: number;
  /** Row number within its suite (0-4): keeps the phones' ports apart. */
  slot: number;
}

/**
 * The rows of each suite, with the first third octet to use: phones over UDP and over TCP
 * (to a UDP upstream, the common deployment), hiding on and off, and TCP on both sides.
 * `INTEROP_ROWS=udp-hide,tcp-plain` runs only those rows (when looking into one).
 */
export function rows(firstNet: number): Row[] {
  const all: Array<Row & { key: string }> = [
    { key: 'udp-hide', name: 'UDP, defaults (topology hiding on)', transport: 'udp', upstream: 'udp', hide: true },
    { key: 'tcp-hide', name: 'TCP phones, UDP upstream, defaults', transport: 'tcp', upstream: 'udp', hide: true },
    { key: 'udp-plain', name: 'UDP, topology hiding off', transport: 'udp', upstream: 'udp', hide: false },
    { key: 'tcp-plain', name: 'TCP phones, UDP upstream, hiding off', transport: 'tcp', upstream: 'udp', hide: false },
    { key: 'tcp-tcp', name: 'TCP phones, TCP upstream, hiding on', transport: 'tcp', upstream: 'tcp', hide: true },
  ].map((r, slot) => ({ ...r, slot, net: firstNet + slot }) as Row & { key: string });
  const only = process.env.INTEROP_ROWS?.split(',');
  return all.filter((r) => only === undefined || only.includes(r.key));
}

export const swAddress = (row: Row) => `127.106.${row.net}.1`;

/**
 * sipwarden in front of the upstream, with default settings but for hiding. Each URL is an
 * upstream of its own (the first is where new requests go; the others are reached only when
 * a Request-URI or Route names them).
 */
export async function startEdge(
  row: Row,
  upstreams: string | string[],
  trusted: string[] = [],
): Promise<SipwardenInstance> {
  const sw = swAddress(row);
  const list = (Array.isArray(upstreams) ? upstreams : [upstreams]).map(
    (u, i) => `{ name: pbx${i === 0 ? '' : i + 1}, targets: [${u}], ping: false }`,
  );
  return startSipwarden(
    [
      `log: { level: ${process.env.INTEROP_LOG ?? 'info'} }`,
      `listen: [udp://${sw}:${SW_PORT}, tcp://${sw}:${SW_PORT}]`,
      `upstreams: [${list.join(', ')}]`,
      ...(trusted.length > 0 ? [`trusted: [${trusted.join(', ')}]`] : []),
      ...(row.hide ? [] : ['topology: { hide: false }']),
      '',
    ].join('\n'),
    { listeners: 2 },
  );
}

/** Registers baresip phones `users` through the row's sipwarden; `slot` keeps ports apart per suite. */
export async function startPhones(row: Row, users: readonly string[], slot: number, regint = 5): Promise<Baresip[]> {
  const phones: Baresip[] = [];
  for (const [i, user] of users.entries()) {
    const k = slot * 4 + i; // phone number within the whole suite: its own ports
    phones.push(
      await Baresip.start({
        ip: `127.106.${row.net}.${i + 2}`,
        sipPort: 35100 + k * 4,
        ctrlPort: 35102 + k * 4,
        rtpPort: 36000 + k * 20,
        aor: `sip:${user}@${DOMAIN}`,
        transport: row.transport,
        outbound: `${swAddress(row)}:${SW_PORT}`,
        regint,
      }),
    );
  }
  return phones;
}

/**
 * Waits until no phone has a call left (nothing ringing, no dialog), up to `ms`. Returns what
 * was left, and hangs it up so that the next case starts clean.
 */
export async function leftovers(phones: readonly Baresip[], ms = 3000): Promise<string[]> {
  const deadline = Date.now() + ms;
  let left: string[] = [];
  for (;;) {
    left = [];
    for (const p of phones) for (const c of await p.calls()) left.push(`${p.aor}: ${c.trim()}`);
    if (left.length === 0 || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 150));
  }
  for (const p of phones) await p.hangupAll();
  return left;
}

/** Asserts that no phone is left ringing or in a call. */
export async function assertIdle(phones: readonly Baresip[]): Promise<void> {
  assert.deepEqual(await leftovers(phones), [], 'no phone left ringing or in a call');
}

/** Waits until RTP flows both ways between two phones in a call (each received and sent packets). */
export async function assertAudio(a: Baresip, b: Baresip, since: [number, number]): Promise<void> {
  await Promise.all([a.event('CALL_RTPESTAB', since[0]), b.event('CALL_RTPESTAB', since[1])]);
  await audioGrows([a, b], [0, 0]);
}

/** Polls each phone's audio statistics until it received more than `from[i]` + 10 packets (3 s at most). */
export async function audioGrows(phones: readonly Baresip[], from: readonly number[]): Promise<number[]> {
  const deadline = Date.now() + 3000;
  for (;;) {
    const stats = await Promise.all(phones.map((p) => p.audio()));
    if (stats.every((s, i) => s.received > from[i]! + 10 && s.sent > 10)) return stats.map((s) => s.received);
    if (Date.now() > deadline) {
      assert.fail(`RTP did not flow: ${JSON.stringify(stats)} (received before: ${from.join(', ')})`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Waits until the phones' audio directions are these (hold: sendonly / recvonly; resume: sendrecv). */
export async function assertDirections(phones: readonly Baresip[], dirs: readonly string[]): Promise<void> {
  const deadline = Date.now() + 3000;
  for (;;) {
    const got = (await Promise.all(phones.map((p) => p.audio()))).map((s) => s.dir);
    if (got.every((d, i) => d === dirs[i])) return;
    if (Date.now() > deadline) assert.deepEqual(got, dirs, 'audio directions after the re-INVITE');
    await new Promise((r) => setTimeout(r, 150));
  }
}

/**
 * A capture of everything sipwarden sends to the outside of one row (baresip's TCP connections
 * come from 127.0.0.1, not from its SIP address: everything but the inside).
 */
export function captureOutside(row: Row): Promise<Capture> {
  return captureLoopback(`src host ${swAddress(row)} and not dst net 127.107.0.0/16`);
}

/** Text that names the inside: its addresses, and the upstream's banner. */
export const INTERNAL: readonly RegExp[] = [/127\.107\./, /kamailio/i];

/**
 * Scans every message sipwarden sent to the phones: each must parse, and none may name the
 * inside in its start line, headers or body, SDP aside (media is not relayed: docs/topology.md).
 * Returns how many messages were scanned.
 */
export function assertNothingInternal(messages: readonly Buffer[], internal = INTERNAL): number {
  const leaks: string[] = [];
  for (const data of messages) {
    const msg = parseMessage(data);
    const head = data.subarray(0, msg.bodyStart).toString('latin1');
    const type = msg.contentType?.toLowerCase() ?? '';
    const body = type.startsWith('application/sdp') ? '' : msg.body.toString('latin1');
    for (const re of internal) {
      const m = re.exec(head) ?? re.exec(body);
      if (m !== null) {
        const text = head + body;
        const at = text.search(re);
        leaks.push(`${re}: ${text.slice(Math.max(0, at - 80), at + 40).replace(/\r\n/g, ' | ')}`);
      }
    }
  }
  assert.deepEqual(leaks, [], 'nothing internal reached the phones');
  return messages.length;
}

/**
 * A request from the inside (UDP) to `host:port`, as the upstream's own services send them;
 * resolves with the final status code.
 */
export async function probe(
  from: UdpPeer,
  to: { host: string; port: number },
  method: 'OPTIONS' | 'MESSAGE',
  uri: string,
  extra: string[] = [],
): Promise<number> {
  const id = randomBytes(6).toString('hex');
  const body = method === 'MESSAGE' ? `probe ${id}` : '';
  const lines = [
    `${method} ${uri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${from.socket.address().address}:${from.port};branch=z9hG4bK-probe-${id};rport`,
    'Max-Forwards: 70',
    `From: <sip:monitor@${DOMAIN}>;tag=${id}`,
    `To: <${uri}>`,
    `Call-ID: probe-${id}@${from.socket.address().address}`,
    `CSeq: 1 ${method}`,
    ...extra,
    ...(body === '' ? [] : ['Content-Type: text/plain']),
    `Content-Length: ${body.length}`,
    '',
    body,
  ];
  const before = from.received.length;
  await from.send(lines.join('\r\n'), to.port, to.host);
  const deadline = Date.now() + 5000;
  for (;;) {
    for (const r of from.received.slice(before)) {
      const m = /^SIP\/2\.0 (\d{3})/.exec(r.data);
      if (m && Number(m[1]) >= 200 && r.data.includes(`probe-${id}`)) return Number(m[1]);
    }
    if (Date.now() > deadline) throw new Error(`no final answer to ${method} ${uri}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export { Baresip };
