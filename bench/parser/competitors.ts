/**
 * The JavaScript SIP stacks sipwarden is compared with. All three are CommonJS without
 * usable type declarations for their parsers, so each gets a minimal local interface
 * describing only what the benchmark touches.
 *
 * Each is driven the way its own stack drives it on incoming traffic, through its public
 * accessors, with a UDP datagram (a Buffer) as input.
 */
import { createRequire } from 'node:module';
import type { ParserAdapter } from './adapter.js';
import type { MessageReads } from './messages.js';

const require = createRequire(import.meta.url);

function packageVersion(name: string): string {
  return (require(`${name}/package.json`) as { version: string }).version;
}

class NotParsedError extends Error {}

// ---------------------------------------------------------------------------------------
// sip (sip.js by Kirill Mikhailov), 0.0.6

type SipJsParams = Record<string, string | null | undefined>;

interface SipJsMessage {
  headers: {
    via: Array<{ params: SipJsParams }>;
    cseq: { seq: number; method: string };
    'call-id': string;
    from: { params: SipJsParams };
    'user-agent'?: string;
    server?: string;
  };
}

interface SipJsModule {
  /** Accepts a Buffer or a string; returns undefined when the message does not parse. */
  parse(data: Buffer | string): SipJsMessage | undefined;
}

export function sipJsAdapter(): ParserAdapter<SipJsMessage> {
  const sip = require('sip') as SipJsModule;
  return {
    name: 'sip',
    version: packageVersion('sip'),
    // sip.js's UDP transport hands the datagram Buffer straight to parse(), which decodes it
    // with toString('binary'); doing the same keeps that decoding in its cost.
    invocation: "require('sip').parse(datagram), eager: every known header parsed",
    isSipwarden: false,
    parse(datagram) {
      const message = sip.parse(datagram);
      if (message === undefined) throw new NotParsedError('sip.parse() returned undefined');
      return message;
    },
    read(message, out: MessageReads) {
      const headers = message.headers;
      out.branch = headers.via[0]?.params.branch ?? undefined;
      out.cseqSeq = headers.cseq.seq;
      out.cseqMethod = headers.cseq.method;
      out.callId = headers['call-id'];
      out.fromTag = headers.from.params.tag ?? undefined;
      out.userAgent = headers['user-agent'] ?? headers.server;
    },
  };
}

// ---------------------------------------------------------------------------------------
// drachtio-sip, 0.6.3: the message class of drachtio-srf

type DrachtioParams = Record<string, string | undefined>;

interface DrachtioSipMessage {
  get(name: string): string | undefined;
  getParsedHeader(name: 'via'): Array<{ params: DrachtioParams }>;
  getParsedHeader(name: 'cseq'): { seq: number; method: string };
  getParsedHeader(name: 'from'): { params: DrachtioParams };
}

interface DrachtioSipModule {
  /** Throws when the message does not parse. */
  SipMessage: new (
    raw: string,
  ) => DrachtioSipMessage;
}

export function drachtioAdapter(): ParserAdapter<DrachtioSipMessage> {
  const { SipMessage } = require('drachtio-sip') as DrachtioSipModule;
  return {
    name: 'drachtio-sip',
    version: packageVersion('drachtio-sip'),
    // The constructor parses lazily (headers kept as strings); structured headers are parsed
    // on demand by getParsedHeader(), which is how drachtio-srf applications read them.
    invocation:
      "new (require('drachtio-sip').SipMessage)(datagram.toString()), lazy; getParsedHeader() for Via/CSeq/From",
    isSipwarden: false,
    parse(datagram) {
      return new SipMessage(datagram.toString());
    },
    read(message, out: MessageReads) {
      out.branch = message.getParsedHeader('via')[0]?.params.branch;
      const cseq = message.getParsedHeader('cseq');
      out.cseqSeq = cseq.seq;
      out.cseqMethod = cseq.method;
      out.callId = message.get('call-id') ?? '';
      out.fromTag = message.getParsedHeader('from').params.tag;
      out.userAgent = message.get('user-agent') ?? message.get('server');
    },
  };
}

// ---------------------------------------------------------------------------------------
// JsSIP, 3.13.8: the parser its UA runs on every incoming message (lib/Parser.js)

interface JsSipIncomingMessage {
  via_branch: string | undefined;
  cseq: number;
  call_id: string;
  from_tag: string | undefined;
  getHeader(name: string): string | undefined;
  parseHeader(name: 'cseq'): { value: number; method: string } | undefined;
}

interface JsSipParserModule {
  /** Returns undefined when the message does not parse (the reason goes to its debug log). */
  parseMessage(data: string, ua: object): JsSipIncomingMessage | undefined;
}

/**
 * JsSIP's UA passes itself to parseMessage(); the parser only stores it on incoming requests
 * for a later reply(), which the benchmark never calls, so an empty object stands in for it.
 */
const JSSIP_UA_PLACEHOLDER = {};

export function jssipAdapter(): ParserAdapter<JsSipIncomingMessage> {
  const parser = require('jssip/lib/Parser') as JsSipParserModule;
  return {
    name: 'jssip',
    version: packageVersion('jssip'),
    invocation:
      "require('jssip/lib/Parser').parseMessage(datagram.toString(), ua): Via/From/To/CSeq/Call-ID... parsed by its PEG grammar",
    isSipwarden: false,
    parse(datagram) {
      const message = parser.parseMessage(datagram.toString(), JSSIP_UA_PLACEHOLDER);
      if (message === undefined) {
        throw new NotParsedError('Parser.parseMessage() returned undefined (set DEBUG=JsSIP:WARN:* for its reason)');
      }
      return message;
    },
    read(message, out: MessageReads) {
      out.branch = message.via_branch;
      out.cseqSeq = message.cseq;
      // Cached: the parser already parsed CSeq; this returns that result.
      out.cseqMethod = message.parseHeader('cseq')?.method ?? '';
      out.callId = message.call_id;
      out.fromTag = message.from_tag;
      out.userAgent = message.getHeader('user-agent') ?? message.getHeader('server');
    },
  };
}
