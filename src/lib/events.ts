import type { SessionError } from '../errors.js';
import { maskId } from './ids.js';

/**
 * Whom an event is about. The full `id` is there for the app's own clean-up (on `destroyed` or `expired`): a
 * session ID cannot be turned into a cookie without the secret, so it is safe in logs; `maskedId` is shorter.
 */
export interface EventSubject {
  /** The session ID: on `destroyed`, the ID it was live under (where a regenerate moved it, not the ID asked for). */
  readonly id: string;
  /** First and last three characters of `id`. */
  readonly maskedId: string;
  /** The user the session was created for, when it has one and the manager knows it (not for `destroyById`). */
  readonly userId?: string;
}

/** A session lifecycle event, for logging, metrics and clean-up (`onEvent`). Times are epoch ms. */
export type SessionEvent =
  | (EventSubject & { readonly type: 'created' | 'updated' | 'destroyed'; readonly at: number })
  | (EventSubject & {
      readonly type: 'regenerated';
      /** The ID the session had before. */
      readonly previousId: string;
      readonly previousMaskedId: string;
      readonly at: number;
    })
  | (EventSubject & {
      readonly type: 'expired';
      readonly reason: 'lifetime' | 'idle' | 'absolute';
      readonly at: number;
    })
  | {
      readonly type: 'rejected';
      /**
       * Why a cookie was not accepted; never the cookie itself. `malformed`: its shape, refused before any crypto
       * (no answer); `oversized`: a cookie store session over today's `maxChunks`, written under a larger one
       * (cleared, unopened); `signature`: forged, or under a secret no longer listed; `unknown`: the store holds
       * no such session; `corrupt`: what the store or the seal holds is not a record the manager writes.
       */
      readonly reason: 'malformed' | 'oversized' | 'signature' | 'unknown' | 'corrupt';
      readonly at: number;
    }
  | (Partial<EventSubject> & {
      /** A failure that did not fail the request (a touch-only write, background work). */
      readonly type: 'error';
      readonly operation: string;
      readonly error: SessionError;
      readonly at: number;
    });

/** The subject of an event about session `id` (of `userId`, if it has one). */
export function subject(id: string, userId: string | undefined): EventSubject {
  return userId === undefined ? { id, maskedId: maskId(id) } : { id, maskedId: maskId(id), userId };
}

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
