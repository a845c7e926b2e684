/** Size limits applied while parsing; every one bounds attacker-controlled work or memory. */
export interface ParseLimits {
  /** Largest accepted message (start line, headers and body), in bytes. */
  maxMessageBytes: number;
  /** Most header fields (lines, after unfolding) in one message. */
  maxHeaders: number;
  /** Longest single header field, name and folded value included, in bytes. */
  maxHeaderBytes: number;
  /**
   * Most entries of one header in one message: the comma-separated elements of a list
   * header (Via, Contact, Route, Record-Route, Path, Allow ...) over all its lines, or the
   * lines of any other header sipwarden knows (Authorization ...).
   */
  maxListEntries: number;
}

export const DEFAULT_LIMITS: Readonly<ParseLimits> = Object.freeze({
  maxMessageBytes: 65535,
  maxHeaders: 128,
  maxHeaderBytes: 8192,
  maxListEntries: 64,
});
