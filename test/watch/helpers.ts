import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../helpers/corpus.js';
import { type SippOptions, type SippResult, sipp } from '../helpers/sipp.js';
import type { SipwardenInstance } from '../helpers/sipwarden.js';

export interface JsonBan {
  target: string;
  guard: string;
  reason: string;
}

/** `sipwarden bans list --json` on the configuration's ban database. */
export function listBans(sw: SipwardenInstance): JsonBan[] {
  const out = execFileSync(
    process.execPath,
    [join(PROJECT_ROOT, 'bin/sipwarden'), 'bans', 'list', '--json', '--config', sw.configFile],
    { encoding: 'utf8' },
  );
  return JSON.parse(out) as JsonBan[];
}

/** The fail2ban lines (`msg` of `event: ban` log lines) so far. */
export function banLines(sw: SipwardenInstance): string[] {
  return sw
    .logs()
    .filter((l) => l.event === 'ban')
    .map((l) => String(l.msg));
}

/** Writes a sipp injection file (SEQUENTIAL, one `field0;field1` line per call). */
export function injectionFile(dir: string, name: string, rows: readonly (readonly string[])[]): string {
  const file = join(dir, name);
  writeFileSync(file, `SEQUENTIAL\n${rows.map((r) => r.join(';')).join('\n')}\n`);
  return file;
}

/** Runs sipp to the end, logging every message it sends and receives to `messages`. */
export async function runSipp(o: SippOptions, messages?: string): Promise<SippResult & { messages: string }> {
  const extra = [...(o.extra ?? [])];
  if (messages !== undefined) extra.push('-trace_msg', '-message_file', messages);
  const r = await sipp({ ...o, extra }).result;
  let log = '';
  if (messages !== undefined) {
    try {
      log = readFileSync(messages, 'utf8');
    } catch {
      log = '';
    }
  }
  return { ...r, messages: log };
}

/** Status lines sipp received (from its message log). */
export function receivedStatusLines(messages: string): string[] {
  return [...messages.matchAll(/^SIP\/2\.0 (\d{3} [^\r\n]*)/gm)].map((m) => m[1]!.trim());
}
