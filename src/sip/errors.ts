/**
 * The only error the SIP message layer throws. `code` is stable and machine-readable;
 * `reason` is short, ASCII and safe to use as the reason phrase of a `400` response.
 */
import type { SipMessage } from './message.js';

export type SipParseErrorCode =
  | 'empty'
  | 'too-large'
  | 'incomplete'
  | 'bad-start-line'
  | 'bad-version'
  | 'bad-method'
  | 'bad-status'
  | 'bad-request-uri'
  | 'bad-header-name'
  | 'header-too-long'
  | 'too-many-headers'
  | 'too-many-entries'
  | 'missing-header'
  | 'duplicate-header'
  | 'bad-header'
  | 'bad-content-length'
  | 'body-too-short'
  | 'cseq-mismatch';

export class SipParseError extends Error {
  override readonly name = 'SipParseError';
  /** Canonical header name the error is about, when there is one. */
  readonly header: string | undefined;
  /**
   * The message as far as it was read when the error was found (start line parsed,
   * headers indexed up to the fault), so a proxy can still answer `400` to a request.
   * Its accessors may throw; its body is not set.
   */
  partial: SipMessage | undefined = undefined;

  constructor(
    readonly code: SipParseErrorCode,
    readonly reason: string,
    header?: string,
  ) {
    super(reason);
    this.header = header;
  }
}

export function headerError(header: string, detail?: string): SipParseError {
  return new SipParseError('bad-header', detail ? `Bad ${header}: ${detail}` : `Bad ${header}`, header);
}
