import { parseMessage } from '../../src/index.js';
import type { ParserAdapter } from './adapter.js';
import type { MessageReads } from './messages.js';

type SipwardenMessage = ReturnType<typeof parseMessage>;

export function sipwardenAdapter(): ParserAdapter<SipwardenMessage> {
  return {
    name: 'sipwarden',
    version: 'working tree',
    // The parser indexes header boundaries; the accessors decode their header on first use.
    invocation: 'parseMessage(datagram): parses the Buffer itself, no decoding of the whole message',
    isSipwarden: true,
    parse(datagram) {
      return parseMessage(datagram);
    },
    read(message, out: MessageReads) {
      out.branch = message.topVia.branch;
      out.cseqSeq = message.cseq.seq;
      out.cseqMethod = message.cseq.method;
      out.callId = message.callId;
      out.fromTag = message.from.tag;
      out.userAgent = message.userAgent ?? message.server;
    },
  };
}
