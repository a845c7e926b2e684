import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/index.js';
import type { Source } from '../core/verdict.js';
import { normalizeIp } from '../net/cidr.js';
import type { TransportName } from '../net/peer.js';
import { SipParseError } from '../sip/errors.js';
import { StreamFramer } from '../sip/framer.js';
import type { SipMessage } from '../sip/message.js';
import type { NameAddr } from '../sip/name-addr.js';
import { parseMessage } from '../sip/parser.js';
import { formatUri } from '../sip/uri.js';
import { GuardDryRun } from './guard-dry-run.js';

export const CHECK_MESSAGE_USAGE = `Usage: sipwarden check-message [--stream] [--config FILE] [--source IP[:PORT]] FILE... (or - for standard input)

Parses raw SIP messages and prints one JSON line per message: ok, or the parse error
with its reason, and the decoded essentials. Exit status 1 if any message failed.

  --stream         treat each input as a TCP/TLS byte stream holding several messages
                   (framed by Content-Length) instead of one datagram
  --config FILE    also run the configured guards on each message (a dry run: nothing is
                   banned, nothing is kept between messages) and print each guard's verdict
  --source IP      the address the message comes from (default 192.0.2.1); with --config
  --transport T    udp, tcp or tls (default udp, tcp with --stream); with --config`;

/** The JSON summary printed for one message. */
export interface MessageReport {
  source: string;
  ok: boolean;
  error?: { code: string; reason: string; header?: string };
  kind?: 'request' | 'response';
  method?: string;
  status?: number;
  reason?: string;
  requestUri?: string;
  topVia?: {
    transport: string;
    host: string;
    port?: number;
    branch?: string;
    received?: string;
    rport?: number | null;
  };
  from?: AddressReport;
  to?: AddressReport;
  callId?: string;
  cseq?: { seq: number; method: string };
  maxForwards?: number;
  userAgent?: string;
  server?: string;
  authUsername?: string;
  contentLength?: number;
  /** With --config: what each guard of the chain says, in chain order. */
  guards?: GuardReport[];
  /** With --config: what sipwarden would do (the first enforced verdict other than pass). */
  verdict?: string;
}

export interface GuardReport {
  guard: string;
  mode: string;
  action: string;
  rule?: string;
  detail?: string;
  reply?: string;
  ban?: { target: string; seconds: number; reason: string };
  /** Why a ban was narrowed or not made (`guards.never_ban`). */
  note?: string;
}

interface AddressReport {
  displayName?: string;
  uri: string;
  tag?: string;
}

function address(a: NameAddr): AddressReport {
  return { displayName: a.displayName, uri: formatUri(a.uri), tag: a.tag };
}

/** Summarises one message: the fields a proxy and its guards look at. */
export function reportMessage(source: string, msg: SipMessage): MessageReport {
  const via = msg.topVia;
  const auth = msg.authorization ?? msg.proxyAuthorization;
  return {
    source,
    ok: true,
    kind: msg.isRequest ? 'request' : 'response',
    method: msg.isRequest ? msg.method : undefined,
    status: msg.isRequest ? undefined : msg.status,
    reason: msg.isRequest ? undefined : msg.reason,
    requestUri: msg.isRequest ? msg.requestUriText : undefined,
    topVia: {
      transport: via.transport,
      host: via.host,
      port: via.port,
      branch: via.branch,
      received: via.received,
      rport: via.rport,
    },
    from: address(msg.from),
    to: address(msg.to),
    callId: msg.callId,
    cseq: msg.cseq,
    maxForwards: msg.maxForwards,
    userAgent: msg.userAgent,
    server: msg.server,
    authUsername: auth?.username,
    contentLength: msg.body.length,
  };
}

/** With --config: the guards to run and where the message comes from. */
export interface GuardCheck {
  dryRun: GuardDryRun;
  from: Source;
}

/** Parses one message fully and reports it, or reports why it was rejected. */
export function checkOne(source: string, data: Buffer, stream: boolean, guards?: GuardCheck): MessageReport {
  let report: MessageReport;
  let msg: SipMessage | undefined;
  try {
    msg = parseMessage(data, { validate: 'full', requireContentLength: stream });
    report = reportMessage(source, msg);
  } catch (err) {
    if (!(err instanceof SipParseError)) throw err;
    report = { source, ok: false, error: { code: err.code, reason: err.reason, header: err.header } };
  }
  if (guards !== undefined) {
    // The guards see what the proxy sees: a message parsed as the proxy parses it, which
    // decodes headers only when asked (a bad header is then the sanity guard's to answer).
    let seen: SipMessage | undefined;
    try {
      seen = parseMessage(data, { requireContentLength: stream });
    } catch (err) {
      if (!(err instanceof SipParseError)) throw err;
    }
    const r = guards.dryRun.run(guards.from, data.length, seen);
    report.guards = r.guards;
    report.verdict = seen === undefined && r.verdict === 'forward' ? 'reject as malformed' : r.verdict;
  }
  return report;
}

/** `IP`, `IP:PORT` or `[IPv6]:PORT`. */
function parseSource(text: string, transport: TransportName): Source | undefined {
  const m = /^\[([^\]]+)\](?::(\d+))?$|^([^:]+)(?::(\d+))?$|^([0-9a-fA-F:.]+)$/.exec(text);
  if (m === null) return undefined;
  const address = m[1] ?? m[3] ?? m[5]!;
  const port = Number(m[2] ?? m[4] ?? 5060);
  const family = isIP(address);
  if (family === 0 || port < 1 || port > 65535) return undefined;
  return { transport, address: normalizeIp(address), port, family: family === 6 ? 6 : 4 };
}

function readInput(file: string): Buffer {
  return file === '-' ? readFileSync(0) : readFileSync(file);
}

export function checkMessageCommand(argv: string[], out: (line: string) => void): number {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      stream: { type: 'boolean', default: false },
      config: { type: 'string' },
      source: { type: 'string' },
      transport: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help || positionals.length === 0) {
    out(CHECK_MESSAGE_USAGE);
    return values.help ? 0 : 2;
  }
  let guards: GuardCheck | undefined;
  if (values.config !== undefined) {
    const transport = values.transport ?? (values.stream ? 'tcp' : 'udp');
    if (transport !== 'udp' && transport !== 'tcp' && transport !== 'tls') {
      process.stderr.write(`sipwarden: --transport must be udp, tcp or tls\n`);
      return 2;
    }
    const from = parseSource(values.source ?? '192.0.2.1', transport);
    if (from === undefined) {
      process.stderr.write(`sipwarden: --source must be an IP address, optionally with :PORT\n`);
      return 2;
    }
    try {
      guards = { dryRun: new GuardDryRun(loadConfig({ file: values.config })), from };
    } catch (err) {
      process.stderr.write(`sipwarden: ${err instanceof Error ? err.message : String(err)}\n`);
      return 2;
    }
  } else if (values.source !== undefined || values.transport !== undefined) {
    process.stderr.write('sipwarden: --source and --transport need --config\n');
    return 2;
  }
  let failed = 0;
  for (const file of positionals) {
    const data = readInput(file);
    const reports: MessageReport[] = [];
    if (values.stream) {
      // Fed byte by byte so that every message before a framing error is still reported.
      const framer = new StreamFramer();
      let n = 0;
      try {
        for (let i = 0; i < data.length; i++) {
          for (const f of framer.push(data.subarray(i, i + 1))) {
            if (f.kind === 'message') reports.push(checkOne(`${file}#${++n}`, f.data, true, guards));
          }
        }
        if (framer.buffered > 0) {
          reports.push({
            source: `${file}#${n + 1}`,
            ok: false,
            error: { code: 'incomplete', reason: 'Incomplete message' },
          });
        }
      } catch (err) {
        if (!(err instanceof SipParseError)) throw err;
        reports.push({
          source: `${file}#${n + 1}`,
          ok: false,
          error: { code: err.code, reason: err.reason, header: err.header },
        });
      }
    } else {
      reports.push(checkOne(file, data, false, guards));
    }
    for (const r of reports) {
      if (!r.ok) failed++;
      out(JSON.stringify(r));
    }
  }
  return failed > 0 ? 1 : 0;
}
