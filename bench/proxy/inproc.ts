/**
 * CPU per call of sipwarden's message path alone, this checkout against another built checkout
 * (`--baseline`): no sockets, no load generator, so the shared machine's kernel and scheduler
 * noise stays out and a few percent show. Each round runs in a fresh process: a `Server` started
 * in-process with the configuration of `run.ts` (every guard on, topology hiding on, the flood
 * density raised), whose transport `send` is replaced by an in-process phone and PBX. A call is
 * INVITE, 180, 200, ACK, BYE, 200, the phone and the PBX answering what sipwarden sends them
 * (the phone follows the Record-Route and the sealed Contact of the 200, as sipp does).
 *
 *   npx tsc -p . && node dist/bench/proxy/inproc.js --baseline DIR [--calls 20000] [--rounds 10]
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs, promisify } from 'node:util';

const USAGE = `usage: node dist/bench/proxy/inproc.js (--baseline DIR | --with-admin) [--calls N] [--rounds N]
  --baseline DIR   a built checkout of another commit (npm ci && npx tsc -p . in it)
  --with-admin     instead: this checkout with the admin listener on, an SSE client attached
                   and /metrics scraped every 20 batches (both by curl), against this checkout without them
  --calls N        measured calls per round (default 20000, after 3000 to warm up)
  --rounds N       rounds, each a fresh process running both (default 10)`;

const { values } = parseArgs({
  options: {
    baseline: { type: 'string' },
    'with-admin': { type: 'boolean', default: false },
    calls: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '10' },
    worker: { type: 'string', multiple: true },
    help: { type: 'boolean', default: false },
  },
});

interface Peer {
  transport: 'udp';
  address: string;
  port: number;
  family: 4;
  listener: number;
  connId: number;
}

const PROXY_PORT = 27460;
const PBX: Peer = { transport: 'udp', address: '127.0.0.1', port: 27461, family: 4, listener: 0, connId: 0 };
const PHONE: Peer = { transport: 'udp', address: '127.0.0.3', port: 5062, family: 4, listener: 0, connId: 0 };
const WARMUP = 3000;
/** Calls per batch: the two checkouts alternate every BATCH calls. */
const BATCH = 500;

async function parent(): Promise<void> {
  const calls = Number(values.calls);
  const rounds = Number(values.rounds);
  const admin = values['with-admin'] === true;
  if (values.help || (values.baseline === undefined) === !admin || !(calls > 0) || !(rounds > 0)) {
    console.error(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  const here = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
  // `#admin`: the admin listener on, with clients; `#plain`: explicitly off (this checkout's schema).
  const roots: Record<string, string> = admin
    ? { sipwarden: `${here}#admin`, 'sipwarden-baseline': `${here}#plain` }
    : { sipwarden: here, 'sipwarden-baseline': resolve(values.baseline!) };
  const us: Record<string, number[]> = { sipwarden: [], 'sipwarden-baseline': [] };
  const label = admin ? { now: 'with admin', before: 'without' } : { now: 'sipwarden', before: 'baseline' };
  console.log(
    `${calls} calls in-process per round, ${rounds} rounds; both in one process, alternating every ${BATCH} calls; ${admin ? 'with the admin listener and clients against without' : `baseline ${values.baseline}`}`,
  );
  for (let n = 0; n < rounds; n++) {
    // Which one starts alternates too.
    const order = n % 2 === 0 ? ['sipwarden', 'sipwarden-baseline'] : ['sipwarden-baseline', 'sipwarden'];
    const args = [fileURLToPath(import.meta.url), '--calls', String(calls)];
    for (const name of order) args.push('--worker', roots[name]!);
    const out = execFileSync(process.execPath, args, { encoding: 'utf8', timeout: 600_000 });
    const figures = out.trim().split('\n').pop()!.split(' ').map(Number);
    for (const [k, name] of order.entries()) us[name]!.push(figures[k]!);
    console.log(
      `  round ${n + 1}: ${label.now} ${us.sipwarden!.at(-1)!.toFixed(2)} µs, ${label.before} ${us['sipwarden-baseline']!.at(-1)!.toFixed(2)} µs CPU per call`,
    );
  }
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 === 1 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const now = median(us.sipwarden!);
  const before = median(us['sipwarden-baseline']!);
  // Rounds are paired (one process, interleaved batches): the median of their ratios.
  const ratio = median(us.sipwarden!.map((u, k) => u / us['sipwarden-baseline']![k]!));
  console.log(`median µs CPU per call: ${label.now} ${now.toFixed(2)}, ${label.before} ${before.toFixed(2)}`);
  console.log(
    `calls per CPU-second: ${label.now} ${Math.round(1e6 / now)}, ${label.before} ${Math.round(1e6 / before)}`,
  );
  console.log(`CPU per call, ${label.now} / ${label.before} (median of the rounds' ratios): x${ratio.toFixed(3)}`);
}

interface InProcess {
  call: CallDriver;
  /** The server's counters (what was dropped, when a call did not complete). */
  stats: () => unknown;
  /** Work of the attached clients after a batch (a /metrics scrape now and then). */
  afterBatch: (batch: number) => Promise<void>;
  stop: () => Promise<void>;
}

const ADMIN_TOKEN = 'bench-admin-token-0123456789';
const run = promisify(execFile);

/** A sipwarden of `spec` (a checkout, `#admin` or `#plain` appended) in this process, its transport replaced by the phone and the PBX. */
async function startInProcess(spec: string, port: number): Promise<InProcess> {
  const [root, mode] = spec.split('#') as [string, string | undefined];
  const adminUrl = `http://127.0.0.1:${port + 5}`;
  const load = (p: string) => import(pathToFileURL(join(root, 'dist/src', p)).href);
  const { loadConfigFromString } = await load('config/index.js');
  const { Server } = await load('server.js');
  const dir = mkdtempSync(join(tmpdir(), 'sipwarden-inproc-'));
  const yaml = [
    `data_dir: ${dir}`,
    `listen: [udp://127.0.0.1:${port}]`,
    `upstreams: [{ name: pbx, targets: ["udp://${PBX.address}:${PBX.port}"], ping: false }]`,
    'guards: { flood: { max_messages: 10000000 } }',
    ...(mode === 'admin' ? [`admin: { listen: "${adminUrl}", token: ${ADMIN_TOKEN} }`] : []),
    ...(mode === 'plain' ? ['admin: { enabled: false }'] : []),
    '',
  ].join('\n');
  const config = loadConfigFromString(yaml, join(dir, 'bench.yaml'), {}, { cwd: dir, env: {} });
  const silent = { debug() {}, info() {}, warn() {}, error() {} };
  const server = await Server.start(config, silent);
  const call = new CallDriver((data, peer) => server.proxy.onMessage(data, peer), port);
  server.transports.send = (dest: Peer, data: Buffer) => {
    call.received(dest, data);
    return true;
  };
  // The clients are other processes, as a browser and Prometheus would be: only the server's
  // side of their work is in this process's CPU.
  const auth = `authorization: Bearer ${ADMIN_TOKEN}`;
  const feed =
    mode === 'admin'
      ? spawn('curl', ['-sN', '-H', auth, `${adminUrl}/api/events/stream`], { stdio: ['ignore', 'ignore', 'ignore'] })
      : undefined;
  return {
    call,
    stats: () => server.stats(),
    afterBatch: async (batch) => {
      if (mode === 'admin' && batch % 20 === 0)
        await run('curl', ['-sf', '-o', '/dev/null', '-H', auth, `${adminUrl}/metrics`]);
    },
    stop: async () => {
      feed?.kill();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * One round: both checkouts in this process, alternating batches of BATCH calls so that the
 * machine's drift falls on both alike. Prints µs of CPU per call of each, on the last line.
 */
async function worker(roots: string[], calls: number): Promise<void> {
  const runs = [];
  for (const [k, root] of roots.entries()) runs.push(await startInProcess(root, PROXY_PORT + 10 * k));
  for (const r of runs) for (let i = 0; i < WARMUP; i++) r.call.run(i);
  const used = runs.map(() => 0);
  for (let done = 0; done < calls; done += BATCH) {
    for (const [k, r] of runs.entries()) {
      const before = process.cpuUsage();
      for (let i = 0; i < BATCH; i++) r.call.run(WARMUP + done + i);
      // The I/O a batch set off (SSE writes, a scrape) is counted in its window.
      await r.afterBatch(done / BATCH);
      await new Promise((next) => setImmediate(next));
      const u = process.cpuUsage(before);
      used[k]! += u.user + u.system;
    }
  }
  for (const r of runs) {
    if (r.call.completed !== WARMUP + calls) {
      console.error(JSON.stringify(r.stats()));
      throw new Error(`${r.call.completed - WARMUP} of ${calls} calls completed (the server's counters above)`);
    }
    await r.stop();
  }
  console.log(used.map((u) => (u / calls).toFixed(3)).join(' '));
}

/** The phone and the PBX of one call at a time, answering what sipwarden sends them. */
class CallDriver {
  completed = 0;
  private readonly inbox: Array<[Buffer, Peer]> = [];
  private callId = '';

  constructor(
    private readonly deliver: (data: Buffer, peer: Peer) => void,
    private readonly proxyPort: number,
  ) {}

  run(i: number): void {
    this.callId = `bench-${i}@127.0.0.3`;
    this.inbox.push([Buffer.from(invite(this.callId, i, this.proxyPort), 'latin1'), PHONE]);
    this.drain();
  }

  private drain(): void {
    for (let next = this.inbox.shift(); next !== undefined; next = this.inbox.shift()) this.deliver(next[0], next[1]);
  }

  /** Something sipwarden sent: to the PBX (requests it answers) or to the phone (answers it follows). */
  received(dest: Peer, data: Buffer): void {
    const text = data.toString('latin1');
    const first = text.slice(0, text.indexOf('\r\n'));
    if (dest.address === PBX.address && dest.port === PBX.port) {
      if (first.startsWith('INVITE')) {
        this.inbox.push([Buffer.from(answer(text, '180 Ringing', true), 'latin1'), PBX]);
        this.inbox.push([Buffer.from(answer(text, '200 OK', true), 'latin1'), PBX]);
      } else if (first.startsWith('BYE')) {
        this.inbox.push([Buffer.from(answer(text, '200 OK', false), 'latin1'), PBX]);
      }
      return;
    }
    if (first.startsWith('SIP/2.0 200') && header(text, 'CSeq')?.endsWith('INVITE')) {
      const routes = headers(text, 'Record-Route');
      const contact = /<([^>]+)>/.exec(header(text, 'Contact') ?? '')?.[1] ?? '';
      const to = header(text, 'To') ?? '';
      this.inbox.push([Buffer.from(inDialog('ACK', contact, routes, to, this.callId, 1), 'latin1'), PHONE]);
      this.inbox.push([Buffer.from(inDialog('BYE', contact, routes, to, this.callId, 2), 'latin1'), PHONE]);
    } else if (first.startsWith('SIP/2.0 200') && header(text, 'CSeq')?.endsWith('BYE')) {
      this.completed++;
    }
  }
}

function header(text: string, name: string): string | undefined {
  return headers(text, name)[0];
}

function headers(text: string, name: string): string[] {
  const out: string[] = [];
  const prefix = `\r\n${name.toLowerCase()}:`;
  const lower = text.toLowerCase();
  for (let at = lower.indexOf(prefix); at !== -1; at = lower.indexOf(prefix, at + 1)) {
    const end = text.indexOf('\r\n', at + 2);
    out.push(text.slice(at + prefix.length, end).trim());
  }
  return out;
}

const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.3\r\ns=-\r\nc=IN IP4 127.0.0.3\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n';

function invite(callId: string, i: number, proxyPort: number): string {
  return [
    `INVITE sip:1000@127.0.0.1:${proxyPort} SIP/2.0`,
    `Via: SIP/2.0/UDP ${PHONE.address}:${PHONE.port};branch=z9hG4bK-b${i};rport`,
    `From: bench <sip:bench@${PHONE.address}:${PHONE.port}>;tag=f${i}`,
    `To: <sip:1000@127.0.0.1:${proxyPort}>`,
    `Call-ID: ${callId}`,
    'CSeq: 1 INVITE',
    `Contact: <sip:bench@${PHONE.address}:${PHONE.port}>`,
    'Max-Forwards: 70',
    'User-Agent: sipwarden-bench inproc',
    'Content-Type: application/sdp',
    `Content-Length: ${SDP.length}`,
    '',
    SDP,
  ].join('\r\n');
}

/** The PBX's answer to a request it received: Vias, From, To (tagged), Call-ID, CSeq, Record-Route copied. */
function answer(request: string, status: string, dialog: boolean): string {
  const lines = [`SIP/2.0 ${status}`];
  for (const v of headers(request, 'Via')) lines.push(`Via: ${v}`);
  if (dialog) for (const r of headers(request, 'Record-Route')) lines.push(`Record-Route: ${r}`);
  lines.push(`From: ${header(request, 'From')}`);
  const to = header(request, 'To') ?? '';
  lines.push(`To: ${to.includes(';tag=') ? to : `${to};tag=pbx`}`);
  lines.push(`Call-ID: ${header(request, 'Call-ID')}`, `CSeq: ${header(request, 'CSeq')}`);
  if (dialog) lines.push(`Contact: <sip:1000@${PBX.address}:${PBX.port}>`);
  lines.push('Content-Length: 0', '', '');
  return lines.join('\r\n');
}

/** The phone's ACK or BYE: to the Contact of the 200, through its Record-Route (reversed). */
function inDialog(method: string, target: string, routes: string[], to: string, callId: string, seq: number): string {
  const lines = [
    `${method} ${target} SIP/2.0`,
    `Via: SIP/2.0/UDP ${PHONE.address}:${PHONE.port};branch=z9hG4bK-${method}${seq}${callId.length};rport`,
    `From: bench <sip:bench@${PHONE.address}:${PHONE.port}>;tag=f${callId.slice(6, callId.indexOf('@'))}`,
    `To: ${to}`,
    `Call-ID: ${callId}`,
    `CSeq: ${method === 'ACK' ? 1 : seq} ${method}`,
    'Max-Forwards: 70',
  ];
  for (const r of [...routes].reverse()) lines.push(`Route: ${r}`);
  lines.push('Content-Length: 0', '', '');
  return lines.join('\r\n');
}

// Last: the classes and functions above must be initialised before either runs.
if (values.worker !== undefined) await worker(values.worker, Number(values.calls));
else await parent();
