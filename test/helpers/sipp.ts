import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PROJECT_ROOT } from './corpus.js';
import { type Running, start } from './process.js';

export const SCENARIOS = join(PROJECT_ROOT, 'test/fixtures/sipp');

export interface SippOptions {
  scenario: string;
  /** Local address and port sipp binds. */
  ip: string;
  port: number;
  /** host:port to send to (UAC); omitted for a UAS. */
  remote?: string;
  /** u1 (UDP), t1 (TCP), l1 (TLS) */
  transport?: 'u1' | 't1' | 'l1';
  calls: number;
  rate?: number;
  /** Hard limit for the whole run, enforced by coreutils timeout as well. */
  timeoutSec?: number;
  extra?: string[];
}

export interface SippResult {
  code: number;
  successful: number;
  failed: number;
  output: string;
}

/** Starts sipp (bounded by `timeout`); the result resolves when it exits. */
export function sipp(o: SippOptions): { run: Running; result: Promise<SippResult> } {
  const limit = o.timeoutSec ?? 30;
  const args = [
    '-k',
    '2',
    String(limit),
    'sipp',
    ...(o.remote ? [o.remote] : []),
    '-sf',
    join(SCENARIOS, o.scenario),
    '-i',
    o.ip,
    '-p',
    String(o.port),
    '-t',
    o.transport ?? 'u1',
    '-m',
    String(o.calls),
    '-r',
    String(o.rate ?? 10),
    '-timeout',
    `${limit}s`,
    '-timeout_error',
    '-buff_size',
    '4194304',
    '-nostdin',
    ...(o.extra ?? []),
  ];
  const run = start('timeout', args);
  const result = run.exited.then((code) => {
    const output = run.output();
    return { code, successful: counter(output, 'Successful call'), failed: counter(output, 'Failed call'), output };
  });
  return { run, result };
}

/** Reads the cumulative column of one line of sipp's final statistics screen. */
function counter(output: string, label: string): number {
  const lines = output.split('\n').filter((l) => l.includes(label));
  const last = lines[lines.length - 1];
  if (!last) return -1;
  const cols = last.split('|').map((c) => c.trim());
  return Number(cols[2] ?? cols[1] ?? -1);
}

/**
 * Starts a sipp UAS, then a sipp UAC (through sipwarden), and asserts that every call of
 * the UAC succeeded and the UAS completed as many.
 */
export async function assertCalls(uasOptions: SippOptions, uacOptions: SippOptions): Promise<void> {
  const uas = sipp(uasOptions);
  await new Promise((r) => setTimeout(r, 200)); // the UAS listens before the first INVITE
  const uac = sipp(uacOptions);
  const [a, b] = await Promise.all([uac.result, uas.result]);
  assert.equal(a.failed, 0, a.output);
  assert.equal(a.successful, uacOptions.calls, a.output);
  assert.equal(b.successful, uacOptions.calls, b.output);
}
