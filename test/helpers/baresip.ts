import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Running, start, waitFor } from './process.js';

/**
 * A real SIP phone: baresip (Debian `baresip-core`) driven over its `ctrl_tcp` module.
 * Each phone runs in its own configuration directory, with its SIP, RTP and control sockets
 * on its own loopback address; audio is a 440 Hz sine (`ausine`) sent as G.711 and a null
 * player (`aubridge`), so a call carries real RTP both ways without a sound card.
 *
 * ctrl_tcp speaks netstrings of JSON: commands `{"command","params","token"}`, answered by
 * `{"response":true,"ok","data","token"}`, and events `{"event":true,"type",...}` such as
 * REGISTER_OK, CALL_INCOMING, CALL_RINGING, CALL_ESTABLISHED, CALL_RTPESTAB (RTP received),
 * CALL_CLOSED, TRANSFER.
 */
export interface BaresipOptions {
  /** Loopback address of every socket of this phone. */
  ip: string;
  /** SIP port (UDP and TCP; baresip takes the next port for TLS). */
  sipPort: number;
  /** ctrl_tcp port. */
  ctrlPort: number;
  /** First of 20 RTP/RTCP ports of this phone (baresip binds them on every address). */
  rtpPort: number;
  /** Address of record, e.g. `sip:alice@interop.test`. */
  aor: string;
  transport: 'udp' | 'tcp';
  /** host:port of the outbound proxy (sipwarden). */
  outbound: string;
  /** Registration interval in seconds (baresip refreshes at 90% of what the registrar grants); 0: no REGISTER. */
  regint: number;
}

export interface BaresipEvent {
  type: string;
  class?: string;
  accountaor?: string;
  direction?: string;
  peeruri?: string;
  id?: string;
  param?: string;
  [key: string]: unknown;
}

interface Pending {
  resolve: (r: { ok: boolean; data: string }) => void;
  reject: (e: Error) => void;
}

export class Baresip {
  /** Every event received so far, in order. */
  readonly events: BaresipEvent[] = [];
  private readonly pending = new Map<string, Pending>();
  private buf: Buffer = Buffer.alloc(0);
  private tokens = 0;
  private waiters: Array<() => void> = [];

  private constructor(
    readonly options: BaresipOptions,
    readonly run: Running,
    readonly dir: string,
    private readonly socket: Socket,
  ) {
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', () => {});
  }

  /**
   * Writes the configuration, starts baresip and connects to its ctrl_tcp port. A start that
   * finds its SIP port taken (a connection of an earlier phone on this address still in
   * TIME_WAIT, or an ephemeral port the kernel lent out) is tried again, a few times.
   */
  static async start(o: BaresipOptions): Promise<Baresip> {
    const dir = mkdtempSync(join(tmpdir(), 'sipwarden-baresip-'));
    writeFileSync(join(dir, 'config'), config(o));
    // The account is added over ctrl_tcp once connected, so its first REGISTER_OK is seen.
    writeFileSync(join(dir, 'accounts'), '');
    let run = start('baresip', ['-f', dir]);
    for (let attempt = 1; ; attempt++) {
      await waitFor(
        () => run.output().includes('baresip is ready') || run.proc.exitCode !== null,
        `baresip ${o.aor} to start`,
      );
      if (run.proc.exitCode === null) break;
      if (attempt === 5 || !run.output().includes('Address already in use')) {
        throw new Error(`baresip exited early:\n${run.output()}`);
      }
      await new Promise((next) => setTimeout(next, 1000 * attempt));
      run = start('baresip', ['-f', dir]);
    }
    const socket = connect({ host: o.ip, port: o.ctrlPort });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    const phone = new Baresip(o, run, dir, socket);
    await phone.must('uanew', account(o));
    return phone;
  }

  get aor(): string {
    return this.options.aor;
  }

  /** Where the next event will be in `events`: pass it to `event()` to see only later ones. */
  mark(): number {
    return this.events.length;
  }

  /** Sends a ctrl_tcp command (`dial`, `accept`, `hangup`, `hold`, `resume`, `transfer` ...). */
  command(command: string, params = ''): Promise<{ ok: boolean; data: string }> {
    const token = `t${++this.tokens}`;
    const json = JSON.stringify({ command, params, token });
    const bytes = Buffer.byteLength(json);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(token);
        reject(new Error(`baresip ${this.aor}: no answer to ${command}`));
      }, 5000);
      this.pending.set(token, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject,
      });
      this.socket.write(`${bytes}:${json},`);
    });
  }

  /** Like `command`, but throws when baresip answers that it failed. */
  async must(command: string, params = ''): Promise<string> {
    const r = await this.command(command, params);
    if (!r.ok) throw new Error(`baresip ${this.aor}: ${command} ${params} failed: ${r.data}`);
    return r.data;
  }

  /**
   * The first event of this type at or after index `since` (see `mark()`) that matches `pred`,
   * waiting up to `ms`.
   */
  async event(
    type: string,
    since = 0,
    pred: (e: BaresipEvent) => boolean = () => true,
    ms = 5000,
  ): Promise<BaresipEvent> {
    const deadline = Date.now() + ms;
    for (;;) {
      for (let i = since; i < this.events.length; i++) {
        const e = this.events[i]!;
        if (e.type === type && pred(e)) return e;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        const seen = this.events
          .slice(since)
          .map((e) => `${e.type}(${e.param ?? ''})`)
          .join(' ');
        throw new Error(`baresip ${this.aor}: no ${type} event within ${ms} ms; saw: ${seen}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Events of this type at or after `since`. */
  eventsOf(type: string, since = 0): BaresipEvent[] {
    return this.events.slice(since).filter((e) => e.type === type);
  }

  /** The calls baresip lists (`listcalls`): one line per call with its state. */
  async calls(): Promise<string[]> {
    const data = await this.must('listcalls');
    return data.split('\n').filter((l) => /\[line \d+\]/.test(l));
  }

  /** Audio statistics of the current call (`audio_debug`). */
  async audio(): Promise<{ sent: number; received: number; dir: string }> {
    const data = await this.must('audio_debug');
    const sent = Number(/TX: packets=(\d+)/.exec(data)?.[1] ?? 0);
    const received = Number(/rcvd=(\d+)/.exec(data)?.[1] ?? 0);
    const dir = /audio dir=(\w+)/.exec(data)?.[1] ?? '';
    return { sent, received, dir };
  }

  /** Ends every call it has (for clean-up between cases); returns how many there were. */
  async hangupAll(): Promise<number> {
    let n = 0;
    for (let i = 0; i < 8; i++) {
      const calls = await this.calls();
      if (calls.length === 0) break;
      n++;
      const line = /\[line (\d+)\]/.exec(calls[0]!)![1]!;
      await this.command('line', line);
      await this.command('hangup');
      await new Promise((r) => setTimeout(r, 100));
    }
    return n;
  }

  /** Ends baresip by its PID (SIGTERM, then SIGKILL after 3 s). */
  async stop(): Promise<number> {
    this.socket.destroy();
    this.run.signal('SIGTERM');
    const timer = setTimeout(() => this.run.signal('SIGKILL'), 3000);
    const code = await this.run.exited;
    clearTimeout(timer);
    return code;
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    for (;;) {
      const colon = this.buf.indexOf(0x3a);
      if (colon < 0 || colon > 10) break;
      const len = Number(this.buf.subarray(0, colon).toString('latin1'));
      if (!Number.isInteger(len) || this.buf.length < colon + 1 + len + 1) break;
      const text = this.buf.subarray(colon + 1, colon + 1 + len).toString('utf8');
      this.buf = this.buf.subarray(colon + 2 + len);
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(text) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (msg.response === true) {
        const p = this.pending.get(String(msg.token));
        this.pending.delete(String(msg.token));
        p?.resolve({ ok: msg.ok === true, data: String(msg.data ?? '') });
      } else if (msg.event === true) {
        this.events.push(msg as unknown as BaresipEvent);
      }
    }
    for (const w of this.waiters.splice(0)) w();
  }
}

function config(o: BaresipOptions): string {
  return [
    'poll_method epoll',
    `sip_listen ${o.ip}:${o.sipPort}`,
    `net_interface ${o.ip}`,
    'call_local_timeout 120',
    'call_max_calls 4',
    'module_path /usr/lib/baresip/modules',
    'module g711.so',
    'module ausine.so',
    'module aufile.so',
    'module aubridge.so',
    'module_app account.so',
    'module_app menu.so',
    'module_app ctrl_tcp.so',
    `ctrl_tcp_listen ${o.ip}:${o.ctrlPort}`,
    // ausine makes 48 kHz stereo only: baresip resamples it for G.711.
    'audio_source ausine,440',
    'ausrc_srate 48000',
    'ausrc_channels 2',
    'audio_player aubridge,null',
    'audio_alert aubridge,null',
    `rtp_ports ${o.rtpPort}-${o.rtpPort + 19}`,
    'rtp_timeout 0',
    '',
  ].join('\n');
}

function account(o: BaresipOptions): string {
  const tp = o.transport === 'tcp' ? ';transport=tcp' : '';
  const params = [`outbound="sip:${o.outbound}${tp}"`, `regint=${o.regint}`, 'answermode=manual', 'audio_codecs=PCMU'];
  return `<${o.aor}${tp}>;${params.join(';')}`;
}
