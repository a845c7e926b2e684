/**
 * The attack bench's flooder: a child process of its own (so it never shares sipwarden's or
 * the harness's event loop) that sends SIP datagrams from many loopback source addresses.
 *
 *   node dist/bench/attack/flooder.js '<json FlooderOptions>'
 *
 * Modes:
 * - `fixed`: one UDP socket bound to each of `addresses` source addresses (connected to the
 *   target), sending in turn as fast as the machine allows, with at most `inFlight` sends
 *   outstanding (a bounded batch: libuv queues nothing beyond it).
 * - `spread`: `addresses` distinct source addresses from `firstAddress` on, each bound in
 *   turn, sending `perAddress` datagrams, then closed; at most `openSockets` open at once.
 *
 * With `ratePps` both hold the total rate to that many datagrams a second. Both stop at `durationMs` or `maxPackets`, whichever comes first (the harness also runs this
 * under coreutils `timeout`). Sends only to `target`, which must be a loopback address.
 * Prints one JSON line `{"event":"sending"}` when the first datagram goes out and one
 * `{"event":"done",...}` with the counts at the end.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv4 } from 'node:net';

export interface FlooderOptions {
  mode: 'fixed' | 'spread';
  target: { ip: string; port: number };
  /** First source address (IPv4, inside 127.0.0.0/8), counted up from there. */
  firstAddress: string;
  addresses: number;
  /** Share of INVITEs among the datagrams (the rest are OPTIONS), 0..1. */
  inviteShare: number;
  durationMs: number;
  maxPackets: number;
  /** fixed: most sends outstanding at once. */
  inFlight: number;
  /** spread: datagrams per source address. */
  perAddress: number;
  /** spread: most sockets open at once. */
  openSockets: number;
  /** Datagrams per second to aim at; 0 for as fast as possible. */
  ratePps: number;
}

export interface FlooderReport {
  event: 'done';
  sent: number;
  sendErrors: number;
  /** Errors reported on a socket after a send (ICMP port unreachable: nobody listening). */
  refused: number;
  bindErrors: number;
  /** Distinct source addresses that sent at least one datagram. */
  sources: number;
  elapsedMs: number;
  received: number;
}

/** When sending began (performance.now()), for a report cut short by SIGTERM. */
let sendingSince = Number.NaN;

/** Pre-built datagrams with distinct Call-IDs and branches, cycled through. */
const POOL_SIZE = 256;

function ipv4ToNumber(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

function numberToIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function datagram(kind: 'INVITE' | 'OPTIONS', target: string, k: number): Buffer {
  const callId = `flood-${process.pid}-${k}`;
  const body =
    kind === 'INVITE'
      ? 'v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n'
      : '';
  const lines = [
    `${kind} sip:100@${target} SIP/2.0`,
    // The sent-by is a documentation address: answers go to the datagram's real source (rport).
    `Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKflood${k};rport`,
    'Max-Forwards: 70',
    `From: <sip:flood@192.0.2.1>;tag=f${k}`,
    `To: <sip:100@${target}>`,
    `Call-ID: ${callId}`,
    `CSeq: 1 ${kind}`,
    'Contact: <sip:flood@192.0.2.1:5060>',
    'User-Agent: sipwarden-bench flooder',
    ...(kind === 'INVITE' ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${body.length}`,
    '',
    body,
  ];
  return Buffer.from(lines.join('\r\n'));
}

function buildPool(options: FlooderOptions): Buffer[] {
  const target = `${options.target.ip}:${options.target.port}`;
  const pool: Buffer[] = [];
  const every = options.inviteShare > 0 ? Math.max(1, Math.round(1 / options.inviteShare)) : 0;
  for (let k = 0; k < POOL_SIZE; k++) {
    pool.push(datagram(every > 0 && k % every === 0 ? 'INVITE' : 'OPTIONS', target, k));
  }
  return pool;
}

function checkOptions(o: FlooderOptions): void {
  const loopback = (ip: string): boolean => isIPv4(ip) && ip.startsWith('127.');
  if (!loopback(o.target.ip)) throw new Error('the target must be a loopback IPv4 address');
  if (!loopback(o.firstAddress)) throw new Error('source addresses must be loopback IPv4 addresses');
  const last = ipv4ToNumber(o.firstAddress) + o.addresses - 1;
  if (last > ipv4ToNumber('127.255.255.255')) throw new Error('the source addresses run past 127.255.255.255');
  if (!(o.durationMs > 0 && o.durationMs <= 600_000)) throw new Error('durationMs must be in (0, 600000]');
  if (!(o.maxPackets > 0 && o.maxPackets <= 1e9)) throw new Error('maxPackets must be in (0, 1e9]');
}

function bindSocket(address: string, target: { ip: string; port: number }): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const fail = (err: Error): void => {
      socket.close();
      reject(err);
    };
    socket.once('error', fail);
    socket.bind(0, address, () => {
      socket.connect(target.port, target.ip, () => {
        socket.off('error', fail);
        resolve(socket);
      });
    });
  });
}

async function fixed(o: FlooderOptions, pool: Buffer[], report: FlooderReport): Promise<void> {
  const first = ipv4ToNumber(o.firstAddress);
  const sockets: Socket[] = [];
  for (let i = 0; i < o.addresses; i++) {
    try {
      const socket = await bindSocket(numberToIpv4(first + i), o.target);
      // Answers forwarded back (200 to OPTIONS) and ICMP errors are counted, not acted on.
      socket.on('message', () => {
        report.received++;
      });
      socket.on('error', () => {
        report.refused++;
      });
      sockets.push(socket);
    } catch {
      report.bindErrors++;
    }
  }
  if (sockets.length === 0) return;
  report.sources = sockets.length;
  const start = performance.now();
  sendingSince = start;
  const deadline = start + o.durationMs;
  console.log(JSON.stringify({ event: 'sending', sockets: sockets.length }));
  await new Promise<void>((resolve) => {
    let pending = 0;
    let turn = 0;
    let k = 0;
    let stopping = false;
    let scheduled = false;
    const onSent = (err: Error | null): void => {
      pending--;
      if (err) report.sendErrors++;
      else report.sent++;
      if (stopping) {
        if (pending === 0) resolve();
      } else if (pending <= o.inFlight >> 1 && !scheduled) {
        // Refill from the check phase, so the loop still polls (signals, answers) between batches.
        scheduled = true;
        setImmediate(pump);
      }
    };
    const pump = (): void => {
      scheduled = false;
      if (performance.now() >= deadline || report.sent + pending >= o.maxPackets) {
        stopping = true;
        if (pending === 0) resolve();
        return;
      }
      let budget = Math.min(o.inFlight - pending, o.maxPackets - report.sent - pending);
      if (o.ratePps > 0) {
        const due = Math.floor((o.ratePps * (performance.now() - start)) / 1000);
        budget = Math.min(budget, due - (report.sent + report.sendErrors + pending));
        if (budget <= 0) {
          if (!scheduled) {
            scheduled = true;
            setTimeout(pump, 1);
          }
          return;
        }
      }
      while (budget-- > 0) {
        sockets[turn]!.send(pool[k]!, onSent);
        pending++;
        turn = turn + 1 === sockets.length ? 0 : turn + 1;
        k = k + 1 === pool.length ? 0 : k + 1;
      }
    };
    pump();
  });
  report.elapsedMs = performance.now() - start;
  // Answers still on their way are not waited for.
  for (const socket of sockets) socket.close();
}

async function spread(o: FlooderOptions, pool: Buffer[], report: FlooderReport): Promise<void> {
  const first = ipv4ToNumber(o.firstAddress);
  const start = performance.now();
  sendingSince = start;
  const deadline = start + o.durationMs;
  let next = 0;
  let k = 0;
  let announced = false;
  const worker = async (): Promise<void> => {
    while (next < o.addresses && performance.now() < deadline && report.sent < o.maxPackets) {
      const address = numberToIpv4(first + next++);
      let socket: Socket;
      try {
        socket = await bindSocket(address, o.target);
      } catch {
        report.bindErrors++;
        continue;
      }
      socket.on('error', () => {
        report.refused++;
      });
      socket.on('message', () => {
        report.received++;
      });
      if (!announced) {
        announced = true;
        console.log(JSON.stringify({ event: 'sending' }));
      }
      let sentHere = 0;
      for (let j = 0; j < o.perAddress; j++) {
        while (o.ratePps > 0 && report.sent + report.sendErrors >= (o.ratePps * (performance.now() - start)) / 1000) {
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
        const buffer = pool[k]!;
        k = k + 1 === pool.length ? 0 : k + 1;
        const ok = await new Promise<boolean>((resolve) => socket.send(buffer, (err) => resolve(!err)));
        if (ok) {
          report.sent++;
          sentHere++;
        } else {
          report.sendErrors++;
        }
      }
      if (sentHere > 0) report.sources++;
      socket.close();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.openSockets) }, worker));
  report.elapsedMs = performance.now() - start;
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as FlooderOptions;
  checkOptions(options);
  const pool = buildPool(options);
  const report: FlooderReport = {
    event: 'done',
    sent: 0,
    sendErrors: 0,
    refused: 0,
    bindErrors: 0,
    sources: 0,
    elapsedMs: 0,
    received: 0,
  };
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    if (report.elapsedMs === 0 && Number.isFinite(sendingSince)) report.elapsedMs = performance.now() - sendingSince;
    console.log(JSON.stringify(report));
  };
  // Stopped early by the harness: still say what was sent.
  process.once('SIGTERM', () => {
    finish();
    process.exit(0);
  });
  if (options.mode === 'fixed') await fixed(options, pool, report);
  else await spread(options, pool, report);
  finish();
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
