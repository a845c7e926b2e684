/** Size limits applied while parsing; every one bounds attacker-controlled work or memory. */
export interface ParseLimits {
  /** Largest accepted message (start line, headers and body), in bytes. */
  maxMessageBytes: number;
  /** Most header fields (lines, after unfolding) in one message. */
  maxHeaders: number;
  /** Longest single header field, name and folded value included, in bytes. */
  maxHeaderBytes: number;
}

export const DEFAULT_LIMITS: Readonly<ParseLimits> = Object.freeze({
  maxMessageBytes: 65535,
  maxHeaders: 128,
  maxHeaderBytes: 8192,
});
