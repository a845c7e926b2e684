/**
 * The processes of the proxy benchmark: spawning them bounded in time, stopping them by PID,
 * waiting for their UDP ports, and reading their CPU time from /proc.
 *
 * Every process is started under coreutils `timeout`, so nothing outlives its bound even if
 * this script is killed with SIGKILL; `timeout` passes SIGTERM on to the command it runs.
 * Only PIDs started here are ever signalled.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Child {
  /** Short name for messages, e.g. "kamailio-plain" or "sipp uac call 8000/s". */
  readonly name: string;
  /** PID of the `timeout` wrapper; the command is its only child. */
  readonly pid: number;
  /** Where the command's stderr (and stdout unless discarded) goes. */
  readonly logFile: string;
  readonly exited: Promise<ExitStatus>;
  hasExited(): boolean;
}

const live = new Set<Child>();
let refusing = false;

/** After this, startProcess throws: the run is being stopped and must not start anything new. */
export function refuseNewProcesses(): void {
  refusing = true;
}

export interface StartOptions {
  cwd?: string;
  /** Seconds after which `timeout` sends SIGTERM, then SIGKILL 5 s later. */
  boundSeconds: number;
  /** Keep stdout out of the log (sipp repaints its screen there). */
  discardStdout?: boolean;
  env?: NodeJS.ProcessEnv;
}

/** Starts `command args` under `timeout`, logging to logFile. */
export function startProcess(
  name: string,
  command: string,
  args: readonly string[],
  logFile: string,
  options: StartOptions,
): Child {
  if (refusing) throw new Error(`not starting ${name}: the benchmark is stopping`);
  const bound = Math.max(1, Math.ceil(options.boundSeconds));
  const log = openSync(logFile, 'a');
  let proc: ReturnType<typeof spawn>;
  try {
    proc = spawn('timeout', ['--kill-after=5', `${bound}s`, command, ...args], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', options.discardStdout ? 'ignore' : log, log],
    });
  } finally {
    closeSync(log);
  }
  if (proc.pid === undefined) throw new Error(`could not start ${name} (${command})`);
  let done = false;
  const exited = new Promise<ExitStatus>((resolve) => {
    proc.on('error', () => {
      done = true;
      resolve({ code: null, signal: null });
    });
    proc.on('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
  });
  const child: Child = { name, pid: proc.pid, logFile, exited, hasExited: () => done };
  live.add(child);
  void exited.then(() => live.delete(child));
  return child;
}

/**
 * Stops a child: SIGTERM to the `timeout` wrapper (forwarded to the command), then SIGKILL to
 * the wrapper and every process under it that is still there after graceMs.
 */
export async function stopProcess(child: Child, graceMs = 5000): Promise<ExitStatus> {
  if (child.hasExited()) return child.exited;
  const tree = descendants(child.pid);
  signal(child.pid, 'SIGTERM');
  const stopped = await Promise.race([child.exited, sleep(graceMs).then(() => undefined)]);
  if (stopped) {
    // The command's own workers (Kamailio's children) may take a moment after their parent.
    await waitGone(tree, 2000);
    return stopped;
  }
  for (const pid of [child.pid, ...tree]) signal(pid, 'SIGKILL');
  return child.exited;
}

/** Stops every child still running, most recent first. */
export async function stopAll(): Promise<void> {
  for (const child of [...live].reverse()) await stopProcess(child, 3000);
}

/** Last resort on process exit: SIGKILL to every child still running and its workers. */
export function killAllNow(): void {
  for (const child of live) {
    for (const pid of [child.pid, ...descendants(child.pid)]) signal(pid, 'SIGKILL');
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

async function waitGone(pids: readonly number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let remaining = pids.filter(isAlive);
  while (remaining.length > 0 && Date.now() < deadline) {
    await sleep(50);
    remaining = remaining.filter(isAlive);
  }
  for (const pid of remaining) signal(pid, 'SIGKILL');
}

function isAlive(pid: number): boolean {
  try {
    // A zombie still answers signal 0; read its state instead.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime in clock ticks, all threads of the process. */
  ticks: number;
  /** ticks plus cutime + cstime: also the CPU of the children it has waited for. */
  ticksWithChildren: number;
}

function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15, cutime 16, cstime 17.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { pid, ppid: Number(fields[1]), ticks, ticksWithChildren: ticks + Number(fields[13]) + Number(fields[14]) };
}

function allProcStats(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (entry.charCodeAt(0) < 48 || entry.charCodeAt(0) > 57) continue;
    const stat = readProcStat(Number(entry));
    if (stat) stats.push(stat);
  }
  return stats;
}

/** PIDs of every process below pid (children, grandchildren, ...). */
export function descendants(pid: number, stats: readonly ProcStat[] = allProcStats()): number[] {
  const byParent = new Map<number, number[]>();
  for (const stat of stats) {
    const siblings = byParent.get(stat.ppid);
    if (siblings) siblings.push(stat.pid);
    else byParent.set(stat.ppid, [stat.pid]);
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of byParent.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

export interface CpuSample {
  seconds: number;
  processes: number;
}

/**
 * CPU time (user + system, all threads) used so far by a process and everything below it:
 * for Kamailio, the main process and all its workers. Per-process counters are used because
 * the host-wide ones in /proc/stat under-count on this kind of VM.
 */
export function treeCpu(rootPid: number): CpuSample {
  return cpuOf([rootPid, ...descendants(rootPid)]);
}

function cpuOf(pids: readonly number[]): CpuSample {
  let ticks = 0;
  let processes = 0;
  for (const pid of pids) {
    const stat = readProcStat(pid);
    if (!stat) continue;
    ticks += stat.ticks;
    processes++;
  }
  return { seconds: ticks / clockTicks(), processes };
}

/**
 * Follows the CPU of a `timeout` wrapper and its command every intervalMs until stopped, keeping
 * the last value: the CPU of a process that exits on its own (the sipp UAC) can no longer be read
 * once it is gone. Only those two PIDs are read, so following costs next to nothing.
 */
export function cpuFollower(wrapperPid: number, intervalMs = 100): { stop(): CpuSample } {
  let pids = [wrapperPid, ...descendants(wrapperPid)];
  let last = cpuOf(pids);
  const sample = (): void => {
    // The command may not be forked yet at the first look.
    if (pids.length < 2) pids = [wrapperPid, ...descendants(wrapperPid)];
    const now = cpuOf(pids);
    if (now.processes > 0 && now.seconds >= last.seconds) last = now;
  };
  const timer = setInterval(sample, intervalMs);
  return {
    stop(): CpuSample {
      clearInterval(timer);
      sample();
      return last;
    },
  };
}

/** CPU of every process on the host at one moment, to tell what ran beside the benchmark. */
export interface HostSnapshot {
  /** Date.now() / 1000 when it was taken. */
  at: number;
  stats: Map<number, ProcStat>;
  /** This script and everything it started. */
  ours: Set<number>;
}

const KTHREADD_PID = 2;

export function hostSnapshot(): HostSnapshot {
  const list = allProcStats();
  const stats = new Map(list.map((stat) => [stat.pid, stat]));
  return { at: Date.now() / 1000, stats, ours: new Set([process.pid, ...descendants(process.pid, list)]) };
}

/**
 * CPU seconds used between two snapshots by processes that are not ours and not kernel threads
 * (kernel threads carry part of the loopback traffic itself): other users of the machine, whose
 * work distorts a step. Processes that ended in between are counted through their parent's
 * cutime/cstime.
 */
export function cpuOutside(before: HostSnapshot, after: HostSnapshot): number {
  const kernel = (stat: ProcStat): boolean => stat.pid === KTHREADD_PID || stat.ppid === KTHREADD_PID;
  let ticks = 0;
  for (const [pid, now] of after.stats) {
    if (after.ours.has(pid) || kernel(now)) continue;
    const then = before.stats.get(pid);
    ticks += now.ticksWithChildren - (then && !before.ours.has(pid) ? then.ticksWithChildren : 0);
  }
  for (const [pid, then] of before.stats) {
    // Gone: its parent's cutime now holds its whole life; take off what it had used before.
    if (!after.stats.has(pid) && !before.ours.has(pid) && !kernel(then)) ticks -= then.ticksWithChildren;
  }
  return Math.max(0, ticks) / clockTicks();
}

/** UDP datagrams the kernel dropped for want of socket buffer space, host-wide, so far. */
export function udpReceiveBufferErrors(): number {
  try {
    const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n');
    const header = lines.findIndex((line) => line.startsWith('Udp:'));
    const names = lines[header]!.split(/\s+/);
    const values = lines[header + 1]!.split(/\s+/);
    return Number(values[names.indexOf('RcvbufErrors')]) || 0;
  } catch {
    return 0;
  }
}

/** True when some socket is bound to this UDP port (IPv4 or IPv6). */
export function udpPortBound(port: number): boolean {
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const table of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      if (local?.endsWith(hexPort)) return true;
    }
  }
  return false;
}

/** Waits until the child binds the UDP port; throws if it exits first or takes too long. */
export async function waitForUdpPort(child: Child, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!udpPortBound(port)) {
    if (child.hasExited()) {
      const status = await child.exited;
      throw new Error(
        `${child.name} exited (${status.signal ?? `code ${status.code}`}) before listening on UDP port ${port}; see ${child.logFile}`,
      );
    }
    if (Date.now() > deadline) {
      throw new Error(`${child.name} did not listen on UDP port ${port} within ${timeoutMs} ms; see ${child.logFile}`);
    }
    await sleep(50);
  }
}

/** The last lines of a log file, for error messages. */
export function tail(file: string, lines = 8): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
