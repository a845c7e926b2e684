import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { start, waitFor } from './process.js';

/** A packet capture on the loopback interface (dumpcap), read back with tshark. */
export interface Capture {
  /** Stops capturing and returns the UDP and TCP payloads of every captured packet. */
  stop(): Promise<Buffer[]>;
}

/** Starts dumpcap on `lo` with a BPF filter and waits until it captures. */
export async function captureLoopback(filter: string): Promise<Capture> {
  const file = join(mkdtempSync(join(tmpdir(), 'sipwarden-capture-')), 'capture.pcapng');
  const run = start('dumpcap', ['-i', 'lo', '-f', filter, '-w', file]);
  await waitFor(() => run.output().includes('Capturing on') || run.proc.exitCode !== null, 'dumpcap to start');
  if (run.proc.exitCode !== null) throw new Error(`dumpcap failed:\n${run.output()}`);
  return {
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
