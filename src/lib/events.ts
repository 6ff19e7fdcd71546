import type { SessionError } from '../errors.js';

/** A session lifecycle event, for logging and metrics (`onEvent`). Times are epoch ms. */
export type SessionEvent =
  | { readonly type: 'created' | 'updated' | 'destroyed'; readonly maskedId: string; readonly at: number }
  | {
      readonly type: 'regenerated';
      readonly maskedId: string;
      readonly previousMaskedId: string;
      readonly at: number;
    }
  | {
      readonly type: 'expired';
      readonly maskedId: string;
      readonly reason: 'lifetime' | 'idle' | 'absolute';
      readonly at: number;
    }
  | {
      readonly type: 'rejected';
      /** Why a cookie was not accepted; never the cookie itself. */
      readonly reason: 'malformed' | 'signature' | 'unknown' | 'corrupt';
      readonly at: number;
    }
  | {
      /** A failure that did not fail the request (a touch-only write, background work). */
      readonly type: 'error';
      readonly operation: string;
      readonly error: SessionError;
      readonly maskedId?: string;
      readonly at: number;
    };

/**
 * The part of a Workers `ExecutionContext` the manager uses: work that need not delay the response (an
 * asynchronous event hook) is handed to `waitUntil` instead of being awaited.
 */
export interface BackgroundContext {
  /** Keeps the runtime alive until `promise` settles, after the response has gone. */
  waitUntil(promise: Promise<unknown>): void;
}

/** Safe event delivery: a hook that throws or rejects never breaks a request. */
export function emit(
  onEvent: ((event: SessionEvent) => unknown) | undefined,
  event: SessionEvent,
  ctx?: BackgroundContext,
): void {
  if (onEvent === undefined) return;
  try {
    const result = onEvent(event);
    if (typeof (result as Promise<unknown> | undefined)?.then === 'function') {
      const settled = Promise.resolve(result).catch(() => undefined);
      ctx?.waitUntil(settled);
    }
  } catch {
    // The hook is for logging and metrics; its failure is not the request's failure.
  }
}
