import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { type Running, start, waitFor } from './process.js';

export interface KamailioUser {
  username: string;
  password: string;
}

export interface KamailioOptions {
  /** Address and UDP port Kamailio listens on. */
  ip: string;
  port: number;
  /** Subscribers (auth_db over db_text). */
  users: readonly KamailioUser[];
  /** Digest realm of the challenges. */
  realm?: string;
  /** Command that runs Kamailio elsewhere, e.g. `['ip', 'netns', 'exec', NS]`. */
  prefix?: readonly string[];
  /**
   * Methods (a Kamailio method list, `SUBSCRIBE|NOTIFY`) answered as registrars that tell
   * users apart do: `404` when the Request-URI user is no subscriber, else a `401` challenge
   * (and `200` once the credentials are right). Checked before the location lookup.
   */
  userMethods?: string;
}

export interface KamailioInstance {
  run: Running;
  dir: string;
  /** SIGTERM to Kamailio's main process (by PID), then wait for it to exit. */
  stop: () => Promise<number>;
}

export const KAMAILIO_MODULES = '/usr/lib/x86_64-linux-gnu/kamailio/modules/';

/**
 * A real registrar that checks passwords: Kamailio with registrar + usrloc (in memory) and
 * auth + auth_db reading the subscribers from a db_text table in a fresh temporary
 * directory. REGISTER must authenticate (401 challenge, wrong password: 401 again); an
 * unknown username is answered 404, as registrars that leak it do. INVITE, MESSAGE and
 * OPTIONS to a user are looked up in the location table: 404 when not registered.
 * Runs in the foreground (`-DD -E`), stopped by its PID.
 */
export async function startKamailio(o: KamailioOptions): Promise<KamailioInstance> {
  const dir = mkdtempSync(join(tmpdir(), 'sipwarden-kamailio-'));
  const db = join(dir, 'db');
  mkdirSync(db);
  writeFileSync(
    join(db, 'version'),
    'table_name(string) table_version(int) \nsubscriber:7\nlocation:9\nlocation_attrs:1\n',
  );
  writeFileSync(
    join(db, 'subscriber'),
    `id(int,auto) username(string) domain(string) password(string) ha1(string,null) ha1b(string,null) \n${o.users
      .map((u, i) => `${i + 1}:${u.username}:${o.realm ?? 'sipwarden.test'}:${u.password}::\n`)
      .join('')}`,
  );
  const cfg = join(dir, 'kamailio.cfg');
  writeFileSync(cfg, config(`text://${db}`, o.realm ?? 'sipwarden.test', o.userMethods));
  return launch([...(o.prefix ?? []), 'kamailio', ...kamailioArgs(cfg, dir, [`udp:${o.ip}:${o.port}`])], dir);
}

/** Process groups of the Kamailios this test file started, killed when it ends. */
const groups = new Set<number>();
after(() => {
  for (const g of groups) {
    try {
      process.kill(-g, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/**
 * Runs Kamailio in a process group of its own (setsid execs the command under the same PID):
 * its workers hold the sockets, and they go with the group however the test ends, even when
 * its main process was killed first.
 */
async function launch(argv: readonly string[], dir: string): Promise<KamailioInstance> {
  const run = start('setsid', [...argv]);
  const group = run.proc.pid!;
  const killGroup = (sig: NodeJS.Signals) => {
    try {
      process.kill(-group, sig);
    } catch {
      // already gone
    }
  };
  groups.add(group);
  await kamailioStarted(run);
  if (run.proc.exitCode !== null) throw new Error(`kamailio exited early:\n${run.output()}`);
  // The workers are forked after the listening line: give them a moment.
  await new Promise((r) => setTimeout(r, 300));
  return {
    run,
    dir,
    stop: async () => {
      killGroup('SIGTERM');
      const code = await run.exited;
      killGroup('SIGKILL');
      groups.delete(group);
      return code;
    },
  };
}

/** Kamailio in the foreground, logging to stderr, with its own runtime directory and listeners. */
function kamailioArgs(cfg: string, dir: string, listen: readonly string[]): string[] {
  return ['-f', cfg, '-DD', '-E', '-m', '64', '-M', '8', '-Y', dir, ...listen.flatMap((l) => ['-l', l])];
}

function kamailioStarted(run: Running): Promise<void> {
  return waitFor(
    () => /INFO: .*(init_child|main)|listening on/.test(run.output()) || run.proc.exitCode !== null,
    'kamailio to start',
    15_000,
  );
}

function config(dbUrl: string, realm: string, userMethods: string | undefined): string {
  const users =
    userMethods === undefined
      ? ''
      : `
	if (is_method("${userMethods}") && $rU != $null) {
		# Bit 2: only whether the subscriber exists.
		if (!is_subscriber("$ru", "subscriber", "2")) {
			sl_send_reply("404", "Not Found");
			exit;
		}
		if (!auth_check("${realm}", "subscriber", "0")) {
			auth_challenge("${realm}", "0");
			exit;
		}
		sl_send_reply("200", "OK");
		exit;
	}`;
  return `${preamble('disable_tcp=yes')}

loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "db_text.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"
loadmodule "auth_db.so"

modparam("usrloc", "db_mode", 0)
modparam("auth_db", "db_url", "${dbUrl}")
modparam("auth_db", "calculate_ha1", yes)
modparam("auth_db", "password_column", "password")
modparam("auth_db", "load_credentials", "")
modparam("auth_db", "use_domain", 0)

request_route {
	if (!mf_process_maxfwd_header("10")) {
		sl_send_reply("483", "Too Many Hops");
		exit;
	}
	if (is_method("ACK")) {
		if (t_check_trans()) t_relay();
		exit;
	}
	if (is_method("REGISTER")) {
		auth_check("${realm}", "subscriber", "0");
		$var(rc) = $rc;
		if ($var(rc) == -3) {
			# Unknown username: a registrar that tells (sipwarden hides it).
			sl_send_reply("404", "Not Found");
			exit;
		}
		if ($var(rc) < 0) {
			auth_challenge("${realm}", "0");
			exit;
		}
		consume_credentials();
		if (!save("location")) sl_reply_error();
		exit;
	}${users}
	if (is_method("INVITE|MESSAGE|OPTIONS") && $rU != $null) {
		if (!lookup("location")) {
			sl_send_reply("404", "Not Found");
			exit;
		}
		t_relay();
		exit;
	}
	sl_send_reply("200", "OK");
}
`;
}

export interface KamailioProxyOptions {
  /** Address Kamailio listens on, over UDP and TCP, at `port`. */
  ip: string;
  port: number;
  /** The domain of the phones' addresses of record (an alias of Kamailio). */
  domain: string;
}

/**
 * A proxying registrar as operators run Kamailio behind an edge proxy: no authentication,
 * registrar with `use_path` (Path stored, `path_mode` 0: kept out of the 200 because phones do
 * not announce `Supported: path`), `record_route()` on dialog-creating requests, stateful
 * `t_relay` (so it answers a CANCEL itself and sends its own, hop by hop, with its one Via),
 * loose routing in dialogs. INVITE, MESSAGE, OPTIONS, REFER and SUBSCRIBE to a user are
 * looked up in the location table (404 when not registered); a call to `decline` is answered
 * 603 by Kamailio itself. UDP and TCP. Stopped by its PID.
 */
export async function startKamailioProxy(o: KamailioProxyOptions): Promise<KamailioInstance> {
  const dir = mkdtempSync(join(tmpdir(), 'sipwarden-kamailio-proxy-'));
  const cfg = join(dir, 'kamailio.cfg');
  writeFileSync(cfg, proxyConfig(o.domain));
  return launch(['kamailio', ...kamailioArgs(cfg, dir, [`udp:${o.ip}:${o.port}`, `tcp:${o.ip}:${o.port}`])], dir);
}

/** The global settings both test configurations share: quiet on DNS, logging to stderr, no banner. */
function preamble(transport: string): string {
  return `#!KAMAILIO
debug=2
log_stderror=yes
memdbg=5
memlog=5
children=2
${transport}
auto_aliases=no
dns=no
rev_dns=no
use_dns_cache=off
server_signature=no

mpath="${KAMAILIO_MODULES}"`;
}

function proxyConfig(domain: string): string {
  return `${preamble(`tcp_children=2\nalias="${domain}"`)}

loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"

modparam("usrloc", "db_mode", 0)
modparam("registrar", "use_path", 1)
modparam("registrar", "path_mode", 0)
modparam("registrar", "min_expires", 2)
modparam("registrar", "default_expires", 60)

request_route {
	if (!mf_process_maxfwd_header("10")) {
		sl_send_reply("483", "Too Many Hops");
		exit;
	}
	if (has_totag()) {
		if (loose_route()) {
			route(RELAY);
		}
		if (is_method("ACK")) {
			if (t_check_trans()) t_relay();
			exit;
		}
		sl_send_reply("404", "Not here");
		exit;
	}
	if (is_method("CANCEL")) {
		if (t_check_trans()) route(RELAY);
		exit;
	}
	t_check_trans();
	if (is_method("REGISTER")) {
		if (!save("location")) sl_reply_error();
		exit;
	}
	if (is_method("INVITE|SUBSCRIBE|REFER")) record_route();
	if ($rU == "decline") {
		sl_send_reply("603", "Decline");
		exit;
	}
	if ($rU == $null) {
		sl_send_reply("484", "Address Incomplete");
		exit;
	}
	if (!lookup("location")) {
		sl_send_reply("404", "Not Found");
		exit;
	}
	route(RELAY);
}

route[RELAY] {
	if (!t_relay()) sl_reply_error();
	exit;
}
`;
}
