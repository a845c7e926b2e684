/**
 * Environment substitution in string values: `${VAR}` (error when VAR is not set),
 * `${VAR:-default}` (default when VAR is unset or empty), `$${` for a literal `${`.
 *
 * Only variables named `SIPWARDEN_...` are substituted: the environment of a service holds
 * other secrets (cloud credentials, database passwords), and a configuration must not be
 * able to pull them into a field that goes on the wire or into an error message.
 */

export type Env = Readonly<Record<string, string | undefined>>;

/** The prefix of the environment variables a configuration may use. */
export const ENV_PREFIX = 'SIPWARDEN_';

/** A variable a substitution used, and the value it gave (never to be shown). */
export interface EnvUse {
  readonly name: string;
  readonly value: string;
}

export type SubstituteResult =
  | { ok: true; value: string; changed: boolean; used: EnvUse[] }
  | { ok: false; message: string };

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Substitutes the references in `text`. With `refuse`, a field that takes no substitution:
 * a reference is an error naming `refuse` as the reason (a literal `$${` is still allowed).
 */
export function substituteEnv(text: string, env: Env, refuse?: string): SubstituteResult {
  if (!text.includes('${')) return { ok: true, value: text, changed: false, used: [] };
  const used: EnvUse[] = [];
  let out = '';
  let i = 0;
  while (i < text.length) {
    const at = text.indexOf('$', i);
    if (at < 0) {
      out += text.slice(i);
      break;
    }
    out += text.slice(i, at);
    if (text.startsWith('$${', at)) {
      out += '${';
      i = at + 3;
      continue;
    }
    if (!text.startsWith('${', at)) {
      out += '$';
      i = at + 1;
      continue;
    }
    const close = text.indexOf('}', at + 2);
    if (close < 0) return { ok: false, message: `unterminated "\${" (write "$\${" for a literal "\${")` };
    const inner = text.slice(at + 2, close);
    const sep = inner.indexOf(':-');
    const name = sep < 0 ? inner : inner.slice(0, sep);
    if (!NAME.test(name)) {
      return {
        ok: false,
        message: `${JSON.stringify(`\${${inner}}`)} is not a variable reference (\${NAME} or \${NAME:-default})`,
      };
    }
    if (refuse !== undefined) return { ok: false, message: `takes no \${...} substitution: ${refuse}` };
    if (!name.startsWith(ENV_PREFIX) || name.length === ENV_PREFIX.length) {
      return {
        ok: false,
        message:
          `\${${name}}: only environment variables named ${ENV_PREFIX}... are substituted ` +
          `(export it as ${ENV_PREFIX}${name.startsWith(ENV_PREFIX) ? 'NAME' : name.toUpperCase()})`,
      };
    }
    const value = env[name];
    if (value !== undefined && value !== '') used.push({ name, value });
    if (sep >= 0) {
      out += value === undefined || value === '' ? inner.slice(sep + 2) : value;
    } else {
      if (value === undefined) {
        return {
          ok: false,
          message: `environment variable ${name} is not set (write \${${name}:-default} to give a default)`,
        };
      }
      out += value;
    }
    i = close + 1;
  }
  return { ok: true, value: out, changed: true, used };
}

/**
 * `message` with the values `uses` took from the environment replaced by their `${NAME}`, so
 * that an error never shows what the environment holds:
 *
 * - inside a quoted value (messages quote the values they show), every one of them, and one
 *   cut short before an ellipsis (at most 80 characters of a value are shown);
 * - in the message's own words, those of 4 characters or more but `true` and `false`: a
 *   shorter one (a port digit, `64`) holds no secret, and replacing it there would garble
 *   the message. With `own` (the message is about the field the values went into), shorter
 *   ones too, where they stand alone (`got 7`).
 */
export function redactEnv(message: string, uses: readonly EnvUse[], own = false): string {
  if (uses.length === 0) return message;
  const refOf = new Map<string, string>();
  for (const u of uses) if (!refOf.has(u.value)) refOf.set(u.value, `\${${u.name}}`);
  // Longest first, in one pass: a value that contains another is replaced whole.
  const values = [...refOf.keys()].sort((a, b) => b.length - a.length);
  const all = new RegExp(values.map(escapeRegExp).join('|'), 'g');
  const shown = values.filter((v) => (own || v.length >= 4) && !/^(true|false)$/i.test(v));
  const words =
    shown.length === 0
      ? undefined
      : new RegExp(
          shown
            .map((v) => (v.length >= 4 ? escapeRegExp(v) : `(?<![A-Za-z0-9])${escapeRegExp(v)}(?![A-Za-z0-9])`))
            .join('|'),
          'g',
        );
  const swap = (m: string) => refOf.get(m) ?? m;
  let out = '';
  let from = 0;
  for (const q of message.matchAll(/"(?:[^"\\]|\\.)*"/g)) {
    out += words === undefined ? message.slice(from, q.index) : message.slice(from, q.index).replace(words, swap);
    out += cutShort(q[0].replace(all, swap), values, refOf);
    from = q.index + q[0].length;
  }
  const rest = message.slice(from);
  return out + (words === undefined ? rest : rest.replace(words, swap));
}

/** `quoted` with a value cut short before its closing `…"` replaced by its reference. */
function cutShort(quoted: string, values: readonly string[], refOf: ReadonlyMap<string, string>): string {
  if (!quoted.endsWith('…"')) return quoted;
  const at = quoted.length - 2;
  let best: string | undefined;
  let bestK = 0;
  for (const v of values) {
    for (let k = Math.min(v.length - 1, at - 1); k > bestK; k--) {
      if (quoted.slice(at - k, at) === v.slice(0, k)) {
        best = v;
        bestK = k;
        break;
      }
    }
  }
  return best === undefined ? quoted : `${quoted.slice(0, at - bestK)}${refOf.get(best)}${quoted.slice(at)}`;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A plain (unquoted) YAML scalar that was substituted is typed again the way YAML types plain
 * scalars, so `max_headers: ${MAX_HEADERS}` gives a number and `ping: ${PING:-false}` a boolean.
 * Only numbers and booleans: a value never turns into a list, a mapping or null.
 */
export function retypePlain(value: string): string | number | boolean {
  if (/^(true|True|TRUE)$/.test(value)) return true;
  if (/^(false|False|FALSE)$/.test(value)) return false;
  if (/^[-+]?[0-9]+$/.test(value) || /^[-+]?(\.[0-9]+|[0-9]+\.[0-9]*)([eE][-+]?[0-9]+)?$/.test(value)) {
    const n = Number(value);
    if (Number.isFinite(n)) return n;
  }
  return value;
}
