/**
 * sipp as load generator and stand-in PBX for the proxy benchmark: command lines, and the
 * reading of sipp's statistics file.
 *
 * Every sipp gets the same 4 MB socket buffer (-buff_size): with sipp's default, sipp -> sipp
 * alone collapses near 5,500 calls/s on this kind of machine, and the benchmark would measure
 * sipp. sipp's own -timeout does not stop an overloaded sipp, so each run is also bounded by
 * coreutils `timeout` (see processes.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Child, startProcess, waitForUdpPort } from './processes.js';

export const SIPP_BUFFER_BYTES = 4194304;

/** A call or transaction that waits longer than this for a message is failed by sipp. */
export const RECV_TIMEOUT_MS = 5000;

export interface Endpoint {
  ip: string;
  port: number;
}

export interface SippPorts {
  /** SIP socket. */
  sip: Endpoint;
  /** sipp's remote-control UDP port (sipp binds it on all addresses; set so runs never collide). */
  control: number;
  /** sipp's RTP echo ports (it binds this one and this + 2 on sip.ip). */
  media: number;
}

function commonArgs(scenarioFile: string, ports: SippPorts, logDir: string, tag: string): string[] {
  return [
    '-sf',
    scenarioFile,
    '-t',
    'u1',
    '-i',
    ports.sip.ip,
    '-p',
    String(ports.sip.port),
    '-cp',
    String(ports.control),
    '-mp',
    String(ports.media),
    '-buff_size',
    String(SIPP_BUFFER_BYTES),
    '-recv_timeout',
    String(RECV_TIMEOUT_MS),
    '-nostdin',
    '-trace_err',
    '-error_file',
    join(logDir, `${tag}.errors.log`),
    // Failing steps would otherwise write every failed message in full.
    '-max_log_size',
    '2000000',
  ];
}

/**
 * Starts a sipp UAS and resolves once its SIP port is bound. -aa makes it answer OPTIONS outside
 * the scenario with 200, as a PBX answers keep-alives: a proxy that pings its upstream (sipwarden
 * does) would otherwise see it as down.
 */
export async function startUas(
  scenarioFile: string,
  ports: SippPorts,
  logDir: string,
  tag: string,
  boundSeconds: number,
): Promise<Child> {
  const child = startProcess(
    `sipp uas (${tag})`,
    'sipp',
    [...commonArgs(scenarioFile, ports, logDir, tag), '-aa'],
    join(logDir, `${tag}.log`),
    { boundSeconds, discardStdout: true },
  );
  await waitForUdpPort(child, ports.sip.port, 5000);
  return child;
}

export interface UacRun {
  child: Child;
  statsFile: string;
}

/**
 * Starts a sipp UAC offering `rate` calls per second to `target`, `calls` calls in all, at most
 * `maxConcurrent` open at a time (beyond that sipp slows down, which shows as a rate not reached).
 */
export function startUac(
  scenarioFile: string,
  ports: SippPorts,
  target: Endpoint,
  rate: number,
  calls: number,
  maxConcurrent: number,
  logDir: string,
  tag: string,
  boundSeconds: number,
): UacRun {
  const statsFile = join(logDir, `${tag}.stats.csv`);
  const args = [
    `${target.ip}:${target.port}`,
    ...commonArgs(scenarioFile, ports, logDir, tag),
    '-r',
    String(rate),
    '-rp',
    '1000',
    '-m',
    String(calls),
    '-l',
    String(maxConcurrent),
    '-timeout',
    `${Math.ceil(boundSeconds)}s`,
    '-trace_stat',
    '-stf',
    statsFile,
    // A statistics line every 200 ms: the timeline shows when the last call was created.
    '-fd',
    '200ms',
  ];
  const child = startProcess(`sipp uac (${tag})`, 'sipp', args, join(logDir, `${tag}.log`), {
    boundSeconds: boundSeconds + 5,
    discardStdout: true,
  });
  return { child, statsFile };
}

export interface SippStatsPoint {
  /** Seconds since sipp started. */
  at: number;
  created: number;
  successful: number;
}

export interface SippStats {
  created: number;
  successful: number;
  failed: number;
  /** From sipp's start to its last statistics line (its exit, unless it was killed). */
  elapsedSeconds: number;
  retransmissions: number;
  failedRecvTimeout: number;
  failedUnexpected: number;
  failedMaxUdpRetrans: number;
  deadCallMessages: number;
  /** Mean time from a call's start to its rtd="true" response (200 to the INVITE or OPTIONS). */
  responseTimeMs: number;
  timeline: SippStatsPoint[];
}

/** Reads the last line of a sipp -trace_stat file (cumulative counters). */
export function readSippStats(statsFile: string): SippStats | undefined {
  let text: string;
  try {
    text = readFileSync(statsFile, 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  if (lines.length < 2) return undefined;
  const header = lines[0]!.split(';');
  const rows = lines.slice(1).map((line) => line.split(';'));
  const columnIndex = (name: string): number => {
    const index = header.indexOf(name);
    if (index < 0) throw new Error(`sipp statistics ${statsFile}: no column ${name}`);
    return index;
  };
  const count = (row: string[], name: string): number => Number(row[columnIndex(name)]) || 0;
  // Times read "YYYY-MM-DD<TAB>HH:MM:SS.micro<TAB>epoch.micro"; ElapsedTime(C) is whole seconds only.
  const epoch = (row: string[], name: string): number => Number(row[columnIndex(name)]?.split('\t').pop());
  // Durations read "HH:MM:SS:micro".
  const duration = (row: string[], name: string): number => {
    const [h, m, sec, micro] = (row[columnIndex(name)] ?? '').split(':').map(Number);
    return (h ?? 0) * 3600 + (m ?? 0) * 60 + (sec ?? 0) + (micro ?? 0) / 1e6;
  };
  const last = rows[rows.length - 1]!;
  const start = epoch(last, 'StartTime');
  return {
    created: count(last, 'OutgoingCall(C)') + count(last, 'IncomingCall(C)'),
    successful: count(last, 'SuccessfulCall(C)'),
    failed: count(last, 'FailedCall(C)'),
    elapsedSeconds: epoch(last, 'CurrentTime') - start,
    retransmissions: count(last, 'Retransmissions(C)'),
    failedRecvTimeout: count(last, 'FailedTimeoutOnRecv(C)'),
    failedUnexpected: count(last, 'FailedUnexpectedMessage(C)'),
    failedMaxUdpRetrans: count(last, 'FailedMaxUDPRetrans(C)'),
    deadCallMessages: count(last, 'DeadCallMsgs(C)'),
    responseTimeMs: duration(last, 'ResponseTime1(C)') * 1000,
    timeline: rows.map((row) => ({
      at: epoch(row, 'CurrentTime') - start,
      created: count(row, 'OutgoingCall(C)') + count(row, 'IncomingCall(C)'),
      successful: count(row, 'SuccessfulCall(C)'),
    })),
  };
}

/** `sipp -v` first line, e.g. "SIPp v3.6.1-SCTP-PCAP-RTPSTREAM". */
export function sippVersion(output: string): string {
  return (
    output
      .split('\n')
      .map((line) => line.trim())
      .find((line) => line.startsWith('SIPp')) ?? 'unknown'
  );
}
