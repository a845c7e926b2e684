/**
 * Who sipwarden is: the hosts and ports of its listeners (bound and advertised), as they appear
 * in Route entries, Request-URIs and Vias.
 */
import type { ListenerInfo } from '../net/peer.js';
import { hostAddress, type SipUri } from '../sip/uri.js';

export class OwnIdentity {
  /** Hosts (lower-case, no brackets) sipwarden answers to, by port. */
  private byPort = new Map<number, Set<string>>();

  /** Recomputes the addresses from the listeners in force (they change on reload). */
  refresh(listeners: readonly ListenerInfo[]): void {
    const own = new Map<number, Set<string>>();
    const add = (host: string, port: number) => {
      const set = own.get(port) ?? new Set<string>();
      own.set(port, set);
      set.add(hostAddress(host).toLowerCase());
    };
    for (const l of listeners) {
      add(l.sipHost, l.sipPort);
      add(l.address, l.port);
    }
    this.byPort = own;
  }

  /** True when host[:port] (port undefined: any) names sipwarden itself. */
  isOwnHost(host: string, port: number | undefined): boolean {
    const h = hostAddress(host).toLowerCase();
    if (port !== undefined) return this.byPort.get(port)?.has(h) === true;
    for (const hosts of this.byPort.values()) if (hosts.has(h)) return true;
    return false;
  }

  readonly isOwnUri = (uri: SipUri): boolean => {
    if (uri.scheme !== 'sip' && uri.scheme !== 'sips') return false;
    const port =
      uri.port ?? (uri.scheme === 'sips' || uri.params.get('transport')?.toLowerCase() === 'tls' ? 5061 : 5060);
    const hosts = this.byPort.get(port);
    if (hosts === undefined) return false;
    const host = hostAddress(uri.host);
    return hosts.has(host) || hosts.has(host.toLowerCase());
  };
}
