/** SIP endpoint URLs (`udp://10.0.0.10:5060`, `tls://[2001:db8::1]:5061`, `tcp://pbx.lan`). */
import { formatIPv4, formatIPv6, parseIp } from '../net/ip.js';

export type Transport = 'udp' | 'tcp' | 'tls';

export const TRANSPORTS: readonly Transport[] = ['udp', 'tcp', 'tls'];

/** Default port per transport (RFC 3261 section 19.1.2). */
export const DEFAULT_PORTS: Readonly<Record<Transport, number>> = { udp: 5060, tcp: 5060, tls: 5061 };

export interface Endpoint {
  transport: Transport;
  /** IP address (IPv6 in RFC 5952 form, without brackets) or lower-case hostname. */
  host: string;
  port: number;
  /** 4 or 6 for an IP address, 0 for a hostname (resolved later, by the user of the endpoint). */
  family: 4 | 6 | 0;
  /** Canonical URL: `udp://10.0.0.10:5060`, `tls://[2001:db8::1]:5061`; always with the port. */
  url: string;
}

/** A host and port to write into Via, Record-Route and Path instead of the bound address. */
export interface HostPort {
  host: string;
  port: number;
  family: 4 | 6 | 0;
  /** `host:port` with IPv6 in brackets, ready for a SIP header. */
  hostport: string;
}

export interface EndpointOptions {
  /** Refuse hostnames (listen addresses must be IP literals). */
  requireIp?: boolean;
  /** Accept port 0 (listen: let the system choose a free port, for tests). */
  allowPortZero?: boolean;
}

export class EndpointError extends Error {
  override readonly name = 'EndpointError';
}

const quote = (s: string) => JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);

/** Parses `udp|tcp|tls://host[:port]`. Throws an EndpointError whose message quotes the input. */
export function parseEndpoint(url: string, options: EndpointOptions = {}): Endpoint {
  if (typeof url !== 'string') throw new EndpointError(`expected a URL string, got ${typeof url}`);
  const m = /^([A-Za-z]+):\/\/(.*)$/s.exec(url);
  const transport = m?.[1]?.toLowerCase() as Transport | undefined;
  if (!m || !transport || !TRANSPORTS.includes(transport)) {
    throw new EndpointError(`${quote(url)} is not a SIP endpoint URL (udp://, tcp://, tls://)`);
  }
  const hp = parseHostPortText(m[2]!, url, DEFAULT_PORTS[transport], options);
  return { transport, host: hp.host, port: hp.port, family: hp.family, url: `${transport}://${hp.hostport}` };
}

/** Parses `host[:port]` (IPv6 in brackets); `defaultPort` when the port is left out. */
export function parseHostPort(text: string, defaultPort: number, options: EndpointOptions = {}): HostPort {
  if (typeof text !== 'string') throw new EndpointError(`expected host[:port], got ${typeof text}`);
  return parseHostPortText(text, text, defaultPort, options);
}

function parseHostPortText(rest: string, whole: string, defaultPort: number, options: EndpointOptions): HostPort {
  const bad = (why: string) => new EndpointError(`${quote(whole)}: ${why}`);
  if (rest === '') throw bad('no host');
  if (/[/?#;@\s]/.test(rest)) throw bad('only host and port are allowed (no user, path, parameters or spaces)');
  let hostText: string;
  let portText: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) throw bad('missing "]" after the IPv6 address');
    hostText = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) throw bad('unexpected text after "]"');
      portText = after.slice(1);
    }
    const ip = parseIp(hostText);
    if (ip?.family !== 6) throw bad(`${quote(hostText)} is not an IPv6 address`);
  } else {
    const colon = rest.indexOf(':');
    if (colon >= 0 && rest.indexOf(':', colon + 1) >= 0) {
      throw bad(`IPv6 addresses must be written in brackets, e.g. [${rest}]`);
    }
    hostText = colon < 0 ? rest : rest.slice(0, colon);
    if (colon >= 0) portText = rest.slice(colon + 1);
  }
  let port = defaultPort;
  if (portText !== undefined) {
    if (!/^[0-9]{1,5}$/.test(portText)) throw bad(`port ${quote(portText)} is not a number`);
    port = Number(portText);
    const min = options.allowPortZero ? 0 : 1;
    if (port < min || port > 65535) throw bad(`port must be from ${min} to 65535`);
  }
  const ip = parseIp(hostText);
  if (ip) {
    const host = ip.family === 4 ? formatIPv4(ip.v4) : formatIPv6(ip.v6);
    const hostport = ip.family === 4 ? `${host}:${port}` : `[${host}]:${port}`;
    return { host, port, family: ip.family, hostport };
  }
  if (rest.startsWith('[')) throw bad(`${quote(hostText)} is not an IPv6 address`);
  if (/^[0-9.]+$/.test(hostText)) throw bad(`${quote(hostText)} is not a valid IPv4 address`);
  if (options.requireIp) throw bad('must be an IP address, not a hostname');
  const host = hostText.toLowerCase();
  if (!isHostname(host)) throw bad(`${quote(hostText)} is not a valid hostname or IP address`);
  return { host, port, family: 0, hostport: `${host}:${port}` };
}

/** RFC 1123 hostname; a trailing dot (fully qualified) is allowed; the last label is not all digits. */
function isHostname(host: string): boolean {
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split('.');
  for (const label of labels) {
    if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(label)) return false;
  }
  return !/^[0-9]+$/.test(labels[labels.length - 1]!);
}
