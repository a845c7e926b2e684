import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from './corpus.js';
import { type Running, start, waitFor } from './process.js';

export interface SipwardenInstance {
  run: Running;
  dir: string;
  configFile: string;
  /** Parsed JSON log lines so far. */
  logs: () => Array<Record<string, unknown>>;
  /** SIGTERM, then wait for the exit code. */
  stop: () => Promise<number>;
}

/**
 * Starts `bin/sipwarden run` with this YAML configuration (written to a fresh temporary
 * directory that is also its data_dir) and waits until it listens on every listener.
 */
export async function startSipwarden(
  yaml: string,
  /** `prefix`: a command that runs it elsewhere, e.g. `['ip', 'netns', 'exec', NS]` (it must exec). */
  opts: { listeners: number; args?: string[]; dir?: string; prefix?: readonly string[] },
): Promise<SipwardenInstance> {
  // Reusing a directory restarts "the same installation": same data_dir, same ban file.
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'sipwarden-test-'));
  const configFile = join(dir, 'sipwarden.yaml');
  // The admin listener only where a test asks for it: every instance would otherwise race for
  // 127.0.0.1:5080, and its start-up work would weigh on timing-sensitive tests.
  const admin = /^admin:/m.test(yaml) ? '' : 'admin: { enabled: false }\n';
  // Written last, so that the line numbers of the test's own configuration stay as they were.
  writeFileSync(configFile, `data_dir: ${dir}/data\n${yaml}${yaml.endsWith('\n') ? '' : '\n'}${admin}`);
  const [cmd, ...before] = [...(opts.prefix ?? []), process.execPath];
  const run = start(cmd!, [
    ...before,
    join(PROJECT_ROOT, 'bin/sipwarden'),
    'run',
    '--config',
    configFile,
    ...(opts.args ?? []),
  ]);
  const logs = () =>
    run
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          return {};
        }
      });
  const want = opts.listeners;
  await waitFor(
    () => logs().filter((l) => l.event === 'listening').length >= want || run.proc.exitCode !== null,
    'sipwarden to listen',
  );
  if (run.proc.exitCode !== null) throw new Error(`sipwarden exited early:\n${run.output()}`);
  return {
    run,
    dir,
    configFile,
    logs,
    stop: async () => {
      run.signal('SIGTERM');
      return run.exited;
    },
  };
}
