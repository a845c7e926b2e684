import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SipParseError } from '../sip/errors.js';
import { StreamFramer } from '../sip/framer.js';
import type { SipMessage } from '../sip/message.js';
import type { NameAddr } from '../sip/name-addr.js';
import { parseMessage } from '../sip/parser.js';
import { formatUri } from '../sip/uri.js';

export const CHECK_MESSAGE_USAGE = `Usage: sipwarden check-message [--stream] FILE... (or - for standard input)

Parses raw SIP messages and prints one JSON line per message: ok, or the parse error
with its reason, and the decoded essentials. Exit status 1 if any message failed.

  --stream   treat each input as a TCP/TLS byte stream holding several messages
             (framed by Content-Length) instead of one datagram`;

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

/** Parses one message fully and reports it, or reports why it was rejected. */
export function checkOne(source: string, data: Buffer, stream: boolean): MessageReport {
  try {
    const msg = parseMessage(data, { validate: 'full', requireContentLength: stream });
    return reportMessage(source, msg);
  } catch (err) {
    if (err instanceof SipParseError) {
      return { source, ok: false, error: { code: err.code, reason: err.reason, header: err.header } };
    }
    throw err;
  }
}

function readInput(file: string): Buffer {
  return file === '-' ? readFileSync(0) : readFileSync(file);
}

export function checkMessageCommand(argv: string[], out: (line: string) => void): number {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { stream: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help || positionals.length === 0) {
    out(CHECK_MESSAGE_USAGE);
    return values.help ? 0 : 2;
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
            if (f.kind === 'message') reports.push(checkOne(`${file}#${++n}`, f.data, true));
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
      reports.push(checkOne(file, data, false));
    }
    for (const r of reports) {
      if (!r.ok) failed++;
      out(JSON.stringify(r));
    }
  }
  return failed > 0 ? 1 : 0;
}
