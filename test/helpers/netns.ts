/**
 * Network namespaces for firewall tests: each test file makes its own (`swfw-<pid>-N`), loads
 * rulesets there with the real tools, and deletes them when it ends. Nothing touches the
 * host's own firewall. Traffic in these tests stays on the namespace's loopback interface.
 */
import { spawnSync } from 'node:child_process';
import { after } from 'node:test';

export interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command, with `input` on stdin; never throws for a failing command. */
export function run(cmd: string, args: string[], input?: string, timeout = 20_000): Result {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', timeout });
  return {
    status: r.error ? -1 : r.status,
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? (r.error ? String(r.error) : ''),
  };
}

/** True when every command is on the PATH. */
export function haveCommands(...cmds: string[]): boolean {
  return cmds.every((c) => run('sh', ['-c', `command -v ${c}`]).status === 0);
}

const made = new Set<string>();
let counter = 0;

after(() => {
  for (const ns of made) run('ip', ['netns', 'delete', ns]);
  made.clear();
});

/**
 * Why network namespaces cannot be used here (no `ip`, no CAP_NET_ADMIN), or undefined when
 * they can. Probes by making and deleting one.
 */
export function netnsUnavailable(): string | undefined {
  if (!haveCommands('ip')) return 'the ip command (iproute2) is not installed';
  const probe = `swfw-${process.pid}-probe`;
  const r = run('ip', ['netns', 'add', probe]);
  if (r.status !== 0) return `cannot create a network namespace (needs root / CAP_NET_ADMIN): ${r.stderr.trim()}`;
  run('ip', ['netns', 'delete', probe]);
  return undefined;
}

export class Netns {
  readonly name: string;

  constructor() {
    this.name = `swfw-${process.pid}-${++counter}`;
    const r = run('ip', ['netns', 'add', this.name]);
    if (r.status !== 0) throw new Error(`ip netns add ${this.name}: ${r.stderr}`);
    made.add(this.name);
    this.mustExec('ip', ['link', 'set', 'lo', 'up']);
  }

  /** The command prefix that runs a command inside the namespace. */
  get prefix(): string[] {
    return ['ip', 'netns', 'exec', this.name];
  }

  exec(cmd: string, args: string[], input?: string, timeout?: number): Result {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args], input, timeout);
  }

  /** Like `exec`, but throws with the command's error output when it fails. */
  mustExec(cmd: string, args: string[], input?: string): string {
    const r = this.exec(cmd, args, input);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} in ${this.name} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  }

  delete(): void {
    run('ip', ['netns', 'delete', this.name]);
    made.delete(this.name);
  }
}
