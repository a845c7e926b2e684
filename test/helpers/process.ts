import { type ChildProcess, spawn } from 'node:child_process';
import { after } from 'node:test';

/** Processes started by the current test file, ended by PID when it finishes. */
const started = new Set<ChildProcess>();

after(() => {
  for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

export interface Running {
  proc: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output: () => string;
  /** Resolves with the exit code (or 128 + signal) when the process ends. */
  exited: Promise<number>;
  /** Sends a signal to this process only (by PID). */
  signal: (sig: NodeJS.Signals) => void;
}

export function start(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Running {
  const proc = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(proc);
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number>((resolve) => {
    proc.on('exit', (code, sig) => {
      started.delete(proc);
      resolve(code ?? 128 + (sig === 'SIGKILL' ? 9 : sig === 'SIGTERM' ? 15 : 1));
    });
    proc.on('error', () => resolve(127));
  });
  return {
    proc,
    output: () => out,
    exited,
    signal: (sig) => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(sig);
    },
  };
}

/** Waits until `check()` is true, polling; throws with `what` after `ms`. */
export async function waitFor(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
