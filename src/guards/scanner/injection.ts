/**
 * Detectors for SQL injection and shell command injection in the user names an attacker
 * controls (digest `username`, the user part of From, To and the Request-URI).
 *
 * Real user names are short runs of letters, digits and `.-_+`; almost every value is
 * cleared by one pass over a character table without a string being made. Only a value
 * holding a character that injection needs (a quote, `;`, `|`, `&`, `$`, `` ` ``, `<`,
 * `>`, `(`, `=`, `#`, `/`, `%`, whitespace, a control or non-ASCII character) is
 * percent-decoded (twice, for `%2527`), has typographic quotes folded to `'` and `"`, and
 * is matched against the rules below. The rules look for the *structure* of an attack,
 * not for single characters: a lone apostrophe (`o'brien`, `d'angelo`), a dash or an
 * ampersand is a name, not an injection.
 *
 * SQL (see docs/guards/scanner.md for the samples each rule was written against):
 * - a quote closed and followed by an operator that goes on: `'or'`, `' and 1`, `' union `,
 *   `"or(` ... (`d'orsay` is not `'or`, and a name ending in `'or` is no expression);
 * - a quote followed by a statement end or comment: `';`, `'--`, `'#`, `')`, `'=`;
 * - a tautology without quotes: `or 1=1`;
 * - statements: `union select`, `select ... from`, `insert into`, `delete from`,
 *   `drop table`, `update ... set`, `exec xp_...`, `waitfor delay`, `sleep(`,
 *   `benchmark(`, `pg_sleep(`, `information_schema`, `@@version`;
 * - a `/*` comment.
 *
 * Shell:
 * - `` ` ``, `$(` and `${` (command and parameter substitution, also `${jndi:`);
 * - a command separator (`;`, `|`, `||`, `&`, `&&`, newline) followed by a command word
 *   (`wget`, `curl`, `sh`, `busybox`, `nc`, `rm`, `cd`, `/path` ...): `;phone-context=`,
 *   the parameter syntax of telephone user parts, is not a command;
 * - redirections to files or descriptors (`> /tmp`, `>>`, `>&`, `< /`), `/bin/`,
 *   `/dev/tcp`;
 * - control characters (after decoding), which end a command line.
 */

/**
 * Characters the rules read per value. Longer values are cut for the rules; the scanner
 * refuses a longer value that holds a trigger character (signal `overlong_value`), so that
 * nothing hides behind padding.
 */
export const INSPECT_LIMIT = 512;

/** 1 for the characters an injection of either kind needs. */
const TRIGGER = (() => {
  const t = new Uint8Array(128);
  for (let c = 0; c < 0x21; c++) t[c] = 1; // controls, space
  t[0x7f] = 1;
  for (const ch of `'"\`;|&$<>()=#/%\\*`) t[ch.charCodeAt(0)] = 1;
  return t;
})();

/** Whether `s` holds any character an injection needs (the fast path for clean names), anywhere. */
export function hasTrigger(s: string): boolean {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TRIGGER[c] === 1) return true;
  }
  return false;
}

/** `hasTrigger` on octets in place (UTF-8 text: any octet >= 0x80 is a trigger). */
export function hasTriggerBytes(buf: Uint8Array, a: number, b: number): boolean {
  for (let i = a; i < b; i++) {
    const c = buf[i]!;
    if (c >= 128 || TRIGGER[c] === 1) return true;
  }
  return false;
}

const HEX = /%[0-9a-fA-F]{2}/;

/** One round of %XX decoding: UTF-8 where the escapes form it, octet by octet otherwise. */
function percentDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s.replace(/%([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
  }
}

/** Typographic and full-width quotes, folded to ASCII before matching. */
const SINGLE_QUOTES = /[\u2018\u2019\u201a\u201b\u2032\u02bc\u02b9\uff07\u00b4]/g;
const DOUBLE_QUOTES = /[\u201c\u201d\u201e\u201f\u2033\u02ba\uff02]/g;

/**
 * The text the rules see: cut to INSPECT_LIMIT, percent-decoded (a second round when the
 * first left escapes, as in `%2527`), quotes folded. The backtick is kept apart from
 * quotes: it is a shell character.
 */
export function normalizeForInspection(s: string): string {
  let t = s.length > INSPECT_LIMIT ? s.slice(0, INSPECT_LIMIT) : s;
  if (t.indexOf('%') !== -1) {
    t = percentDecode(t);
    if (HEX.test(t)) t = percentDecode(t);
  }
  return t.replace(SINGLE_QUOTES, "'").replace(DOUBLE_QUOTES, '"');
}

interface Rule {
  readonly name: string;
  readonly re: RegExp;
}

/** SQL keywords after a closing quote, as whole words. */
const SQL_RULES: readonly Rule[] = [
  {
    name: 'quote followed by an SQL operator',
    re: /['"]\s*(?:or|and|xor|not|union|select|having|like|rlike|regexp|order\s+by|group\s+by)(?=[\s'"(0-9]|--|#|\/\*)/i,
  },
  { name: 'quote followed by a statement end or comment', re: /['"]\s*(?:;|--|#|\)|=)/ },
  { name: 'tautology', re: /(?:^|[^a-z0-9_])(?:or|and)\s+(\d+)\s*=\s*\1(?![0-9])/i },
  { name: 'UNION SELECT', re: /(?:^|[^a-z0-9_])union\s+(?:all\s+|distinct\s+)?select(?![a-z0-9_])/i },
  { name: 'SELECT ... FROM', re: /(?:^|[^a-z0-9_])select\s[^;]{0,200}?\sfrom(?![a-z0-9_])/i },
  {
    name: 'SQL statement',
    re: /(?:^|[^a-z0-9_])(?:insert\s+into|delete\s+from|(?:drop|alter|truncate|create)\s+(?:table|database|schema|user)|update\s+\w+\s+set|waitfor\s+delay|exec(?:ute)?\s+(?:xp|sp)_)(?![a-z0-9_])/i,
  },
  {
    name: 'SQL function call',
    re: /(?:^|[^a-z0-9_])(?:sleep|benchmark|pg_sleep|load_file|extractvalue|updatexml)\s*\(/i,
  },
  { name: 'SQL schema probe', re: /information_schema|@@version|sqlite_master|pg_catalog/i },
  { name: 'SQL comment', re: /\/\*/ },
];

/** Command words seen after separators in injection payloads (honeypot data, exploit code). */
const COMMANDS =
  'wget|curl|tftp|ftpget|nc|ncat|netcat|socat|sh|bash|dash|zsh|ksh|ash|busybox|chmod|chown|rm|cd|cat|echo|printf|id|uname|whoami|python3?|perl|php|ruby|lua|node|ping|sleep|reboot|shutdown|telnet|telnetd|kill|killall|nohup|mkfifo|base64|ls|ps|ifconfig|ip|powershell|cmd|exec|eval|sudo|su|dd|mv|cp|touch|grep|awk|sed|export|source|crontab|iptables|useradd|passwd';

const SHELL_RULES: readonly Rule[] = [
  { name: 'command substitution', re: /`|\$\(|\$\{/ },
  {
    name: 'command after a separator',
    re: new RegExp(`(?:;|\\|\\|?|&&?|\\n|\\r)\\s*(?:(?:${COMMANDS})(?=[\\s;|&<>$/'"]|$)|\\.?/[a-z])`, 'i'),
  },
  { name: 'redirection', re: />>|>\s*[/&]|<\s*\/|[0-9]>\s*&?[0-9/]/ },
  { name: 'shell path', re: /\/bin\/|\/dev\/(?:tcp|udp|null)|\/tmp\// },
  { name: 'control character', re: /[\x00-\x08\x0a-\x1f\x7f]/ },
];

function firstMatch(rules: readonly Rule[], text: string): string | undefined {
  for (let k = 0; k < rules.length; k++) if (rules[k]!.re.test(text)) return rules[k]!.name;
  return undefined;
}

/** The SQL rule `text` (already normalized) breaks, or undefined. */
export function sqlInjectionIn(text: string): string | undefined {
  return firstMatch(SQL_RULES, text);
}

/** The shell rule `text` (already normalized) breaks, or undefined. */
export function shellInjectionIn(text: string): string | undefined {
  return firstMatch(SHELL_RULES, text);
}

/** Result of inspecting one value: which kind of injection, and the rule. */
export interface Finding {
  kind: 'sql' | 'shell';
  rule: string;
}

/**
 * Inspects one attacker-controlled name for either kind of injection. `sql` and `shell`
 * say which detectors are enabled. Returns undefined for a clean value, without
 * allocating when the value holds no trigger character.
 */
export function inspectName(value: string, sql: boolean, shell: boolean): Finding | undefined {
  if (!hasTrigger(value)) return undefined;
  const text = normalizeForInspection(value);
  if (sql) {
    const rule = sqlInjectionIn(text);
    if (rule !== undefined) return { kind: 'sql', rule };
  }
  if (shell) {
    const rule = shellInjectionIn(text);
    if (rule !== undefined) return { kind: 'shell', rule };
  }
  return undefined;
}
