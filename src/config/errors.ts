/** One problem found in the configuration, located as precisely as the input allows. */
export interface ConfigIssue {
  /** Config file name as given, when the problem is in a file. */
  file: string | undefined;
  /** 1-based line in `file`, when known. */
  line: number | undefined;
  /** Field path in YAML terms, e.g. `upstreams[0].targets[1]`; '' for the document itself. */
  path: string;
  /** Command-line flag the value came from (e.g. `--listen`), when it came from one. */
  flag: string | undefined;
  /** What is wrong, without location. */
  message: string;
}

export function formatIssue(issue: ConfigIssue): string {
  if (issue.flag) return `command line: ${issue.flag}: ${issue.message}`;
  const where = issue.file ? (issue.line ? `${issue.file}:${issue.line}: ` : `${issue.file}: `) : '';
  return `${where}${issue.path ? `${issue.path}: ` : ''}${issue.message}`;
}

/**
 * The only error configuration loading throws for bad input. `message` has one line per issue,
 * e.g. `sipwarden.yaml:12: upstreams[0].targets[1]: "udpx://1.2.3.4" is not a SIP endpoint URL
 * (udp://, tcp://, tls://)`; `file`, `line` and `path` describe the first issue.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly issues: readonly ConfigIssue[];

  constructor(issues: ConfigIssue[], options?: { cause?: unknown }) {
    super(issues.map(formatIssue).join('\n'), options);
    this.issues = Object.freeze(issues.slice());
  }

  get file(): string | undefined {
    return this.issues[0]?.file;
  }
  get line(): number | undefined {
    return this.issues[0]?.line;
  }
  get path(): string {
    return this.issues[0]?.path ?? '';
  }
}
