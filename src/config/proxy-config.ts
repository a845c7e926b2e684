/**
 * The proxy's own top-level sections: where it listens, where it forwards, what is inside,
 * message and connection limits, its own answers, its secret and data directory.
 */
import * as z from 'zod';
import type { Endpoint, HostPort } from './endpoint.js';
import {
  checked,
  cidr,
  duration,
  endpoint,
  filePath,
  hostPort,
  integer,
  MIN_SECRET_LENGTH,
  nonEmpty,
  resolveDefault,
  resolveWritten,
  uniqueList,
} from './fields.js';
import { section } from './section.js';

/** Where state is kept when `data_dir` is not set (relative to the working directory). */
export const DEFAULT_DATA_DIR = './data';
/** `tcp.upstream_reserve` when not set (at most a quarter of `max_connections`). */
const DEFAULT_UPSTREAM_RESERVE = 32;

const listenUrl = endpoint({ requireIp: true, allowPortZero: true });

const listenEntry = checked(
  z.union([
    listenUrl,
    z.strictObject({
      url: listenUrl.meta({ description: 'The address, as in the list form.' }),
      cert: filePath.optional().meta({
        default: 'required for `tls://`',
        description:
          'PEM certificate chain. Must exist and be readable when the configuration is loaded. Only allowed on `tls://` addresses.',
      }),
      key: filePath.optional().meta({
        default: 'required for `tls://`',
        description: 'PEM private key, same rules as `cert`.',
      }),
      advertise: hostPort.optional().meta({
        default: 'the bound address',
        description:
          "Host (name or IP, IPv6 in brackets) and port written in Via, Record-Route and Path instead of the bound address: needed when listening on `0.0.0.0`/`[::]` or behind NAT. The port defaults to the listener's port.",
      }),
    }),
  ]),
  (entry, ctx) => {
    if ('transport' in entry) {
      if (entry.transport === 'tls') {
        const url = entry.url;
        ctx.addIssue({
          code: 'custom',
          message: `${url} needs a certificate and key: write { url: ${url}, cert: FILE, key: FILE }`,
        });
      }
      return;
    }
    for (const field of ['cert', 'key'] as const) {
      if (entry.url.transport === 'tls' && entry[field] === undefined) {
        ctx.addIssue({ code: 'custom', path: [field], message: `required for ${entry.url.url}` });
      } else if (entry.url.transport !== 'tls' && entry[field] !== undefined) {
        // Reported at the key: the value is not wrong, its place is.
        ctx.addIssue({
          code: 'custom',
          path: [field],
          message: 'only used with tls:// addresses',
          params: { atKey: true },
        });
      }
    }
  },
).transform((entry) => {
  const {
    url: ep,
    cert,
    key,
    advertise,
  } = 'transport' in entry ? { url: entry, cert: undefined, key: undefined, advertise: undefined } : entry;
  return { ...ep, cert, key, advertise: advertiseFor(advertise, ep) };
});

/** `advertise` with port 0 (left out) takes the listener's port. */
function advertiseFor(advertise: HostPort | undefined, ep: Endpoint): HostPort | undefined {
  if (advertise === undefined || advertise.port !== 0) return advertise;
  const hostport = advertise.family === 6 ? `[${advertise.host}]:${ep.port}` : `${advertise.host}:${ep.port}`;
  return { ...advertise, port: ep.port, hostport };
}

export type ListenConfig = z.output<typeof listenEntry>;

const pingObject = checked(
  z.strictObject({
    interval: duration(100).default(10_000).meta({ description: 'Time between pings to a target.' }),
    timeout: duration(10).default(2_000).meta({
      description: 'How long to wait for any response to a ping; not longer than `interval`.',
    }),
    failures: integer(1, 100)
      .default(3)
      .meta({ description: 'Consecutive failed pings before a target counts as down.' }),
  }),
  (ping, ctx) => {
    if (ping.timeout > ping.interval) {
      ctx.addIssue({
        code: 'custom',
        path: ['timeout'],
        message: `must not be longer than interval (${ping.interval} ms)`,
      });
    }
  },
);

export type PingConfig = z.output<typeof pingObject>;
const DEFAULT_PING: PingConfig = pingObject.parse({});

const upstreamTls = section({
  verify: z.boolean().default(true).meta({
    description:
      "Verify the target's certificate chain and that it names the target (`server_name`, else the target's host or IP address). `false` accepts any certificate: only for testing.",
  }),
  ca: filePath.optional().meta({
    default: "the system's CAs",
    description:
      'PEM file of the CAs to trust for this upstream (e.g. a private CA, or a self-signed certificate). Must be readable when the configuration is loaded.',
  }),
  server_name: nonEmpty.optional().meta({
    type: 'host name',
    default: "the target's host",
    description: 'Name the certificate must carry, also sent as SNI (for targets given by IP address).',
  }),
})
  .prefault({})
  .meta({
    default: 'verify with the system CAs',
    description: "How sipwarden checks the certificates of this upstream's `tls://` targets (connections it opens).",
  });

export type UpstreamTlsConfig = z.output<typeof upstreamTls>;

const upstream = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, {
      error: 'must be 1-63 letters, digits, "-", "_" or ".", starting with a letter or digit',
    })
    .meta({
      type: 'name',
      description:
        '1–63 letters, digits, `-`, `_` or `.`, starting with a letter or digit; unique. Used by `default_upstream`, logs and metrics.',
    }),
  targets: z.array(endpoint({})).min(1, { error: 'must list at least one target' }).meta({
    type: 'list of endpoint URLs',
    description:
      'One or more addresses of this upstream. Hostnames are allowed here (`tcp://pbx.lan`); each target once.',
  }),
  // `ping: true` means the defaults; `ping: false` turns the health check off.
  ping: z
    .union([z.boolean(), pingObject])
    .prefault(true)
    .transform((ping): PingConfig | false => (ping === true ? DEFAULT_PING : ping))
    .meta({
      type: '`true`, `false` or mapping',
      default: '`true`',
      description: 'OPTIONS health check of each target. `true` uses the defaults below, `false` turns it off.',
    }),
  tls: upstreamTls,
});

export type UpstreamConfig = z.output<typeof upstream>;

export const proxyShape = {
  listen: z.array(listenEntry).min(1, { error: 'must list at least one address' }).meta({
    type: 'list of endpoint URLs or mappings',
    default: 'required (or `--listen`)',
    description:
      'Addresses sipwarden binds and accepts SIP on. An entry is a URL (`udp://0.0.0.0:5060`) or a mapping with `url` and the keys below. The host must be an IP address (`0.0.0.0` and `[::]` for all interfaces). Each address may appear once, and `tcp://` and `tls://` cannot share one address and port. Port `0` lets the system pick a free port (for tests).',
  }),
  upstreams: z.array(upstream).min(1, { error: 'must list at least one upstream' }).meta({
    type: 'list of mappings',
    default: 'required (or `--upstream`)',
    description: 'The servers sipwarden forwards to; at least one.',
  }),
  default_upstream: z.string().optional().meta({
    type: 'upstream name',
    default: 'the first upstream',
    description: 'Where requests go unless routed otherwise. Must name an entry of `upstreams`.',
  }),
  trusted: uniqueList(cidr).default([]).meta({
    type: 'list of networks or addresses',
    description:
      'Sources treated as inside on every transport (never banned or rate-limited as attackers): `10.0.0.0/8`, `2001:db8::/32`, `192.0.2.7`. Upstream targets are inside without being listed, but only as an outsider cannot claim to be one: over UDP by address and port, over TCP/TLS on the connections sipwarden opened to them. A PBX that opens its own TCP/TLS connections to sipwarden must be listed here. List only addresses no outsider can use (see [docs/proxy.md](proxy.md), "Inside and outside"). See "Addresses and networks" below.',
  }),
};

export const limitsSchema = section({
  max_message_bytes: integer(1024, 1_048_576)
    .default(65535)
    .meta({ description: 'Largest message accepted (start line, headers and body).' }),
  max_headers: integer(8, 4096).default(128).meta({ description: 'Most header fields in one message.' }),
  max_header_bytes: integer(256, 65_535)
    .default(8192)
    .meta({ description: 'Longest single header field; at most `max_message_bytes`.' }),
  max_list_entries: integer(16, 4096).default(64).meta({
    description:
      "Most entries of one header in one message: the comma-separated elements of a list header (Via, Contact, Route, Record-Route, Path, Allow, Supported ...) over all its lines, or the lines of any other header sipwarden knows (Authorization, Proxy-Authorization ...). More is a parse error (`too-many-entries`), answered `400 Too Many <header> Entries` (or `Headers`) and counted as malformed. Real chains carry a handful of Vias and Record-Routes; RFC 4475's long-request torture message has 34 Vias. Every reader of a list (the scanner, the proxy's loop check and route set) reads at most this many ([docs/parser.md](parser.md#limits)).",
  }),
})
  .prefault({})
  .meta({ description: "Size limits applied to every SIP message (see the parser's `limits` option)." });

export type LimitsConfig = z.output<typeof limitsSchema>;

export const tcpSchema = section({
  idle_timeout: duration(1000)
    .default(600_000)
    .meta({ description: 'An inbound connection without traffic for this long is closed.' }),
  connect_timeout: duration(10)
    .default(5_000)
    .meta({ description: 'Time allowed for an outbound connect (and TLS handshake) to an upstream.' }),
  max_connections: integer(1, 1_000_000).default(10_000).meta({
    description:
      'Most TCP/TLS connections at once, accepted and opened together. An accepted connection counts from the moment it is accepted, TLS handshake included. See "Connection limits" in [proxy.md](proxy.md).',
  }),
  max_connections_per_ip: integer(1, 1_000_000).default(32).meta({
    description:
      'Most connections at once with one source address, accepted ones and ones sipwarden opens towards it; at most `max_connections`. IPv6 addresses count per `sources.ipv6_prefix` network (a `/64` by default), as the guards count them.',
  }),
  upstream_reserve: integer(0, 1_000_000)
    .optional()
    .meta({
      default: `\`${DEFAULT_UPSTREAM_RESERVE}\``,
      description: `Slots of \`max_connections\` that only connections sipwarden opens to upstream targets may use: every other connection (accepted ones, ones opened towards phones) shares \`max_connections − upstream_reserve\`, so the outside can never fill the table sipwarden needs to reach its upstreams. When not set: \`${DEFAULT_UPSTREAM_RESERVE}\`, but at most a quarter of \`max_connections\`; when set, smaller than \`max_connections\`.`,
    }),
  tls_handshake_timeout: duration(100).default(5_000).meta({
    description: 'An accepted TLS connection that has not completed its handshake in this time is closed.',
  }),
  max_pending_output: integer(65_536, 1_073_741_824).default(1_048_576).meta({
    description:
      'Bytes of unsent output a connection may hold (its socket buffer plus what waits for the connection to be established); a write that would pass it is dropped, counted, and the connection closed: a peer that does not read cannot make sipwarden buffer without end. At least `limits.max_message_bytes`.',
  }),
  pongs_per_second: integer(0, 1000).default(2).meta({
    description:
      'CRLF answers ("pongs", RFC 5626 4.4.1) to CRLFCRLF keep-alives per second and connection; pings beyond this get none (clients ping about every two minutes). `0` never answers.',
  }),
})
  .transform((tcp) => ({
    ...tcp,
    upstreamReserve: tcp.upstreamReserve ?? Math.min(DEFAULT_UPSTREAM_RESERVE, Math.floor(tcp.maxConnections / 4)),
  }))
  .prefault({})
  .meta({ description: 'TCP and TLS connections.' });

export type TcpConfig = z.output<typeof tcpSchema>;

export const repliesSchema = section({
  bad_request_per_second: integer(0, 1_000_000).default(50).meta({
    description:
      '`400 Bad Request` answers to malformed requests per second, all sources together; beyond it malformed requests are dropped silently. `0` never answers them.',
  }),
})
  .prefault({})
  .meta({ description: 'Answers sipwarden sends itself.' });

export type RepliesConfig = z.output<typeof repliesSchema>;

export const secretSchema = z
  .string()
  .refine((s) => s === '' || s.length >= MIN_SECRET_LENGTH, {
    // Never quote the value: it is a secret.
    error: (issue) => `must be at least ${MIN_SECRET_LENGTH} characters long (got ${(issue.input as string).length})`,
  })
  .optional()
  .transform((s) => (s === '' ? undefined : s))
  .meta({
    type: `string of ${MIN_SECRET_LENGTH} or more characters`,
    default: 'generated',
    description:
      'Key for flow tokens. When not set (or empty), one is generated on first start and kept in `<data_dir>/secret` (mode 0600), so tokens survive restarts; that file must not be accessible by group or others. Set it (the same on every node) when several sipwarden nodes serve one domain. Never printed in error messages, and redacted in logs.',
  });

export const dataDirSchema = nonEmpty
  .optional()
  .transform((dir) => (dir === undefined ? resolveDefault(DEFAULT_DATA_DIR) : resolveWritten(dir)))
  .meta({
    type: 'directory path',
    default: `\`${DEFAULT_DATA_DIR}\``,
    description:
      "Where sipwarden keeps state (the generated secret and topology key, the ban database with the edge-auth users' HA1 values, the attack records). The default is relative to the working directory. Created 0700 when missing; sipwarden refuses to start (and `bans`, `users`, `attacks` refuse to run) when group or others may write it: `chmod 700` it. Every file sipwarden makes there is 0600, whatever the umask (SQLite's `-wal`, `-shm` and `-journal` files too, and existing ones are made 0600), and a symbolic link at any of their names is refused, never followed.",
  });
