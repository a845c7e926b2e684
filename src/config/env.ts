/**
 * Environment substitution in string values: `${VAR}` (error when VAR is not set),
 * `${VAR:-default}` (default when VAR is unset or empty), `$${` for a literal `${`.
 */

export type Env = Readonly<Record<string, string | undefined>>;

export type SubstituteResult = { ok: true; value: string; changed: boolean } | { ok: false; message: string };

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function substituteEnv(text: string, env: Env): SubstituteResult {
  if (!text.includes('${')) return { ok: true, value: text, changed: false };
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
    const value = env[name];
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
  return { ok: true, value: out, changed: true };
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
