// "What does this commit do?", decided in one place from facts about the session, with no I/O: the commit
// switch (lib/commit.ts) then does the I/O of the outcome. Unit-tested over every combination of facts.

/** What the commit needs to know about a session at the moment it commits. */
export interface CommitFacts {
  /** The store holds the session (it was loaded, or an earlier commit in this request wrote it). */
  readonly stored: boolean;
  /** `destroy()` was called. */
  readonly destroyed: boolean;
  /** `regenerate()` was called on a stored session: it moves to a new ID. */
  readonly regenerated: boolean;
  /** Values, flashes or immutable keys changed. */
  readonly changed: boolean;
  /** The lifetime or remember-me changed. */
  readonly timesChanged: boolean;
  /** `create()` made it: stored even when empty. */
  readonly forced: boolean;
  /** An expiry-only write would store a later expiry by at least `touchAfter` (see Lifetime.touchDue). */
  readonly touchDue: boolean;
  /** The cookie was signed or sealed with an older secret. */
  readonly resign: boolean;
  /** The request carried a session cookie that opened no live session. */
  readonly staleCookie: boolean;
  /** A login (`create()`) not stored yet, with the request's earlier session still to end. */
  readonly replacing: boolean;
}

/**
 * - `nothing`: no store I/O, no cookie.
 * - `clear-cookie`: expire the request's dead cookie, nothing to store.
 * - `create`, `update`, `regenerate`, `destroy`: the store transaction of that name (`destroy` of a dead
 *   cookie: by the cookie's ID, when it was genuine).
 * - `touch`: an expiry-only `update` (no changes), made only when it gains at least `touchAfter`.
 * - `resend`: the cookie again, signed or sealed with the current secret, after the same expiry-only write as
 *   `touch` (a late read-only response must not put back the cookie of a session another request ended).
 */
export type CommitPlan =
  'nothing' | 'clear-cookie' | 'create' | 'update' | 'touch' | 'regenerate' | 'destroy' | 'resend';

export function planCommit(f: CommitFacts): CommitPlan {
  // A dead cookie is ended by ID too: its session may have moved to a new ID that is still live. A login ended
  // before it was stored still ends the session it was to replace (a logout right after a login).
  if (f.destroyed) return f.stored || f.staleCookie || f.replacing ? 'destroy' : 'nothing';
  if (!f.stored) {
    // An unchanged new session is not stored and sets no cookie.
    if (f.changed || f.timesChanged || f.forced) return 'create';
    return f.staleCookie ? 'clear-cookie' : 'nothing';
  }
  if (f.regenerated) return 'regenerate';
  if (f.changed || f.timesChanged) return 'update';
  if (f.touchDue) return 'touch';
  return f.resign ? 'resend' : 'nothing';
}
