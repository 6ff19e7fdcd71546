/**
 * Stable error codes. Tests assert them and the README lists them; a code never changes meaning.
 *
 * - Construction: `MISSING_STORE`, `MISSING_SECRET`, `WEAK_SECRET`, `INVALID_COOKIE_NAME`,
 *   `INVALID_COOKIE_OPTION`, `INVALID_DURATION`, `INVALID_OPTION`.
 * - Data: `UNSERIALIZABLE`, `IMMUTABLE`, `TYPE_MISMATCH`, `DESTROYED`.
 * - Requests: `NOT_FOUND`, `INVALID_ID`, `COOKIE_TOO_LARGE`, `ANSWERED`.
 * - Stores: `STORE_READ`, `STORE_WRITE`, `STORE_DELETE`, `STORE_TIMEOUT`, `STORE_UNSUPPORTED`, `STORE_LIMIT`.
 */
export type SessionErrorCode =
  | 'MISSING_STORE'
  | 'MISSING_SECRET'
  | 'WEAK_SECRET'
  | 'INVALID_COOKIE_NAME'
  | 'INVALID_COOKIE_OPTION'
  | 'INVALID_DURATION'
  | 'INVALID_OPTION'
  | 'UNSERIALIZABLE'
  | 'IMMUTABLE'
  | 'TYPE_MISMATCH'
  | 'DESTROYED'
  | 'COMMIT_IN_FLIGHT'
  | 'ANSWERED'
  | 'NOT_FOUND'
  | 'INVALID_ID'
  | 'COOKIE_TOO_LARGE'
  | 'STORE_READ'
  | 'STORE_WRITE'
  | 'STORE_DELETE'
  | 'STORE_TIMEOUT'
  | 'STORE_UNSUPPORTED'
  | 'STORE_LIMIT';

/** @internal What every SessionError message starts with. */
export const MESSAGE_PREFIX = 'edge-sessions: ';

/**
 * The one error type edge-sessions throws. `code` is stable; `message` names the option or operation;
 * `cause` holds the underlying error of a failing store.
 *
 * @example
 * try { await sessions.start(request) } catch (e) {
 *   if (e instanceof SessionError && e.code === 'STORE_READ') return new Response('try again', { status: 503 })
 *   throw e
 * }
 */
export class SessionError extends Error {
  /** Always `'SessionError'`. */
  override readonly name = 'SessionError';
  /** What went wrong, stable across versions: tests assert it and the README lists it. */
  readonly code: SessionErrorCode;
  /**
   * Set when a commit at the end of a request (`handle()`, the Hono middleware) failed, or a commit in a handler
   * that `handle()` wraps and the handler let this error out: the Set-Cookie lines that must still reach the
   * browser (a login the handler committed before, a logout's expired cookie), with `Cache-Control: private` when
   * there are any. Pass them to your error response.
   */
  headers?: Headers;

  constructor(code: SessionErrorCode, message: string, options?: { cause?: unknown }) {
    super(MESSAGE_PREFIX + message, options);
    this.code = code;
  }
}
