import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamFramer } from '../../src/sip/framer.js';
import { start, waitFor } from './process.js';

/** A packet capture on the loopback interface (dumpcap), read back with tshark. */
export interface Capture {
  /** Stops capturing and returns the UDP and TCP payloads of every captured packet. */
  stop(): Promise<Buffer[]>;
  /**
   * Stops capturing and returns every SIP message captured: a UDP datagram is one message,
   * a TCP connection's bytes (each direction a stream of its own) are put together and cut
   * into messages by Content-Length, so a header split across segments is still whole.
   */
  stopMessages(): Promise<Buffer[]>;
}

/** Starts dumpcap on `lo` with a BPF filter and waits until it captures. */
export async function captureLoopback(filter: string): Promise<Capture> {
  const file = join(mkdtempSync(join(tmpdir(), 'sipwarden-capture-')), 'capture.pcapng');
  const run = start('dumpcap', ['-i', 'lo', '-f', filter, '-w', file]);
  await waitFor(() => run.output().includes('Capturing on') || run.proc.exitCode !== null, 'dumpcap to start');
  if (run.proc.exitCode !== null) throw new Error(`dumpcap failed:\n${run.output()}`);
  const stopped = async () => {
    // dumpcap writes what it holds on SIGINT; give the last packets time to be read first.
    await new Promise((r) => setTimeout(r, 300));
    run.signal('SIGINT');
    await run.exited;
  };
  return {
    async stopMessages() {
      await stopped();
      const text = execFileSync(
        'tshark',
        ['-r', file, '-T', 'fields', '-e', 'tcp.stream', '-e', 'tcp.srcport', '-e', 'udp.payload', '-e', 'tcp.payload'],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 * 1024 * 1024 },
      );
      const out: Buffer[] = [];
      const streams = new Map<string, Buffer[]>();
      for (const line of text.split('\n')) {
        const [stream = '', srcPort = '', udp = '', tcp = ''] = line.split('\t');
        if (udp !== '') out.push(Buffer.from(udp.replace(/:/g, ''), 'hex'));
        else if (tcp !== '') {
          const key = `${stream}/${srcPort}`;
          const parts = streams.get(key) ?? [];
          parts.push(Buffer.from(tcp.replace(/:/g, ''), 'hex'));
          streams.set(key, parts);
        }
      }
      for (const parts of streams.values()) {
        const framer = new StreamFramer();
        for (const f of framer.push(Buffer.concat(parts))) if (f.kind === 'message') out.push(Buffer.from(f.data));
      }
      return out;
    },
    async stop() {
      // dumpcap writes what it holds on SIGINT; give the last packets time to be read first.
      await new Promise((r) => setTimeout(r, 300));
      run.signal('SIGINT');
      await run.exited;
      const text = execFileSync('tshark', ['-r', file, '-T', 'fields', '-e', 'udp.payload', '-e', 'tcp.payload'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
        maxBuffer: 64 * 1024 * 1024,
      });
      return text
        .split('\n')
        .map((l) => l.replace(/[\t,:]/g, ''))
        .filter((l) => l !== '')
        .map((hex) => Buffer.from(hex, 'hex'));
    },
  };
}
