/**
 * The SDP answer of the honeypot's 200 OK (RFC 3264 section 6): one m= line per offered
 * stream, in order, same media and transport. Audio streams take one codec of the offer
 * (PCMU, else PCMA, else the first offered) and, when offered, telephone-event; every other
 * stream is refused (port 0). The connection address is the one the caller sent to (the
 * listener's advertised address), never an internal one.
 */

/** Most m= lines answered: an offer with more gets the first ones refused past this. */
const MAX_STREAMS = 8;
/** Longest offer looked at. */
const MAX_OFFER_CHARS = 8192;

export interface SdpContext {
  /** Host of the c= and o= lines: an IPv4 or IPv6 address (no brackets) or a name. */
  host: string;
  /** Even RTP port for the first audio stream (more streams take the next even ports). */
  port: number;
  sessionId: string;
  /** s= line. */
  sessionName: string;
}

interface Media {
  media: string;
  port: string;
  proto: string;
  formats: string[];
  rtpmaps: Map<string, string>;
  fmtps: Map<string, string>;
  direction: string | undefined;
}

/** Parses the m= sections of an offer; undefined when it has none. */
function mediaOf(offer: string): Media[] | undefined {
  const out: Media[] = [];
  let cur: Media | undefined;
  for (const raw of offer.slice(0, MAX_OFFER_CHARS).split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith('m=')) {
      const f = line.slice(2).split(/\s+/);
      if (f.length < 3) continue;
      cur = {
        media: f[0]!,
        port: f[1]!,
        proto: f[2]!,
        formats: f.slice(3, 40),
        rtpmaps: new Map(),
        fmtps: new Map(),
        direction: undefined,
      };
      out.push(cur);
    } else if (cur !== undefined && line.startsWith('a=')) {
      const a = line.slice(2);
      const m = /^(rtpmap|fmtp):(\d{1,3})\s+(.{1,100})$/.exec(a);
      if (m) (m[1] === 'rtpmap' ? cur.rtpmaps : cur.fmtps).set(m[2]!, m[3]!);
      else if (a === 'sendrecv' || a === 'sendonly' || a === 'recvonly' || a === 'inactive') cur.direction = a;
    }
  }
  return out.length === 0 ? undefined : out;
}

const TOKEN = /^[A-Za-z0-9._/+-]{1,32}$/;
const STATIC_NAMES: Record<string, string> = { '0': 'PCMU/8000', '8': 'PCMA/8000', '3': 'GSM/8000', '9': 'G722/8000' };
const REVERSE_DIRECTION: Record<string, string> = {
  sendonly: 'recvonly',
  recvonly: 'sendonly',
  inactive: 'inactive',
  sendrecv: 'sendrecv',
};

function codecName(m: Media, fmt: string): string | undefined {
  return m.rtpmaps.get(fmt) ?? STATIC_NAMES[fmt];
}

function pickCodec(m: Media): string | undefined {
  const byName = (name: string) => m.formats.find((f) => codecName(m, f)?.toUpperCase().startsWith(name));
  return byName('PCMU/') ?? byName('PCMA/') ?? m.formats.find((f) => !/telephone-event/i.test(codecName(m, f) ?? ''));
}

function header(ctx: SdpContext): string[] {
  const ip = ctx.host.includes(':') ? 'IP6' : 'IP4';
  return [
    'v=0',
    `o=- ${ctx.sessionId} ${ctx.sessionId} IN ${ip} ${ctx.host}`,
    `s=${ctx.sessionName}`,
    `c=IN ${ip} ${ctx.host}`,
    't=0 0',
  ];
}

/** The answer to `offer`, or an offer of our own (PCMU, PCMA) when the request carried none. */
export function sdpAnswer(offer: string | undefined, ctx: SdpContext): string {
  const streams = offer === undefined ? undefined : mediaOf(offer);
  const lines = header(ctx);
  if (streams === undefined) {
    lines.push(
      `m=audio ${ctx.port} RTP/AVP 0 8 101`,
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:8 PCMA/8000',
      'a=rtpmap:101 telephone-event/8000',
      'a=fmtp:101 0-16',
      'a=ptime:20',
      'a=sendrecv',
    );
    return `${lines.join('\r\n')}\r\n`;
  }
  let port = ctx.port;
  streams.forEach((m, i) => {
    const media = TOKEN.test(m.media) ? m.media : 'audio';
    const proto = TOKEN.test(m.proto) ? m.proto : 'RTP/AVP';
    const codec = m.media === 'audio' && m.port !== '0' && i < MAX_STREAMS ? pickCodec(m) : undefined;
    if (codec === undefined || !/^\d{1,3}$/.test(codec)) {
      // Refused stream (RFC 3264 6): port 0 and at least one format of the offer.
      const fmt = m.formats.find((f) => TOKEN.test(f)) ?? '0';
      lines.push(`m=${media} 0 ${proto} ${fmt}`);
      return;
    }
    const event = m.formats.find((f) => /^telephone-event\//i.test(codecName(m, f) ?? ''));
    const formats = event !== undefined && /^\d{1,3}$/.test(event) ? [codec, event] : [codec];
    lines.push(`m=audio ${port} ${proto} ${formats.join(' ')}`);
    for (const f of formats) {
      const name = codecName(m, f);
      if (name !== undefined && /^[A-Za-z0-9._/-]{1,40}$/.test(name)) lines.push(`a=rtpmap:${f} ${name}`);
      if (f === event) lines.push(`a=fmtp:${f} 0-16`);
    }
    lines.push('a=ptime:20', `a=${REVERSE_DIRECTION[m.direction ?? 'sendrecv']}`);
    port += 2;
  });
  return `${lines.join('\r\n')}\r\n`;
}
