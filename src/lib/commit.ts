// The commit: plan it (lib/commit-plan.ts), then one switch does the I/O of that outcome through the session's
// transport. Every path leaves the session as it was when its transaction fails: the store and the browser's
// cookie keep what they had, and the error (a SessionError) goes to the caller.
import { SessionError } from '../errors.js';
import { planCommit, type CommitPlan } from './commit-plan.js';
import { emit, subject } from './events.js';
import { maskId } from './ids.js';
import { expiryReason } from './records.js';
import type { SessionCore } from './session-core.js';
import type { SessionRecord, SessionTimes } from './store-contract.js';
import type { Whole } from './transport.js';

/** Tries of `create` under a fresh ID when the store says an ID is taken (only a broken `generateId` repeats). */
const CREATE_TRIES = 3;

/**
 * The Set-Cookie lines of this commit. Synchronous when there is nothing to do (most read-only requests), so
 * `handle()` pays no promise for them. `keep`: the lines go to the caller's code (`commit()`, `commitAll`), and
 * are also kept in `s.sent` for `handle()` to send.
 */
export function commitLines(s: SessionCore, keep = false): string[] | Promise<string[]> {
  // After the commit in flight, plan again from what it left (usually nothing). If it failed, so does this one:
  // its outcome may be unknown (STORE_TIMEOUT), and the library never retries a commit by itself.
  const inFlight = s.committing;
  if (inFlight !== undefined) return inFlight.then(() => commitLines(s, keep));
  // Replaced by a login (`create()`): the new session's commit ends it, and the new cookie replaces this one's.
  if (s.replaced) return [];
  // Its create or move timed out: only a destroy (by the old ID, following a move that landed) is committed. A
  // timed-out login is not created again, under this ID or another, after the app was told it failed.
  if (s.outcomeUnknown && !s.destroyed) return [];
  const now = s.config.now();
  const plan = planCommit({
    stored: s.stored,
    destroyed: s.destroyed,
    regenerated: s.previousId !== undefined,
    changed: s.values.changed,
    timesChanged: s.lifetime.changed,
    forced: s.forced,
    touchDue: s.stored && !s.cookie.detached && s.lifetime.touchDue(now),
    resign: s.cookie.resign,
    staleCookie: s.cookie.stale,
    replacing: s.replaces !== undefined,
  });
  if (plan === 'nothing') return [];
  const lines = run(s, plan, now);
  s.committing = lines;
  const settled = () => {
    if (s.committing === lines) s.committing = undefined;
  };
  lines.then(
    (made) => {
      settled();
      if (keep && !s.cookie.detached) s.sent.push(...made);
    },
    (error: unknown) => {
      if (error instanceof SessionError && error.code === 'STORE_TIMEOUT') {
        // The outcome is unknown, and the library never retries: what the timed-out write carried is not sent
        // again (not by handle(), nor by a later commit of changes made since). A session whose create or move
        // timed out commits nothing more: whether and where it is stored is not known.
        s.values.drop();
        s.lifetime.dropped();
        if (plan === 'create' || plan === 'regenerate') s.outcomeUnknown = true;
      } else {
        // Nothing was written: the changes stay for the next commit.
        s.values.restore();
      }
      settled();
    },
  );
  return s.cookie.detached ? lines.then(() => []) : lines;
}

async function run(s: SessionCore, plan: Exclude<CommitPlan, 'nothing'>, now: number): Promise<string[]> {
  const c = s.config;
  const t = c.transport;
  switch (plan) {
    case 'clear-cookie': {
      const lines = t.clear(s.cookie, now);
      s.cookie.stale = false;
      return lines;
    }

    case 'destroy': {
      const id = s.stored ? (s.previousId ?? s.id) : s.cookie.orphanId;
      const ended = id === undefined ? null : wasLive(s, await t.destroy(id, now + c.retainMs), now);
      if (s.replaces !== undefined) await endReplaced(s, now, false);
      const lines = t.clear(s.cookie, now);
      s.stored = false;
      s.previousId = undefined;
      s.cookie.stale = false;
      s.cookie.orphanId = undefined;
      if (ended !== null) emit(c.onEvent, { type: 'destroyed', ...subject(ended, s.userId), at: now }, s.ctx);
      return lines;
    }

    case 'create': {
      const times = s.lifetime.times(now);
      const record = s.record(times);
      s.values.take();
      for (let tries = 1; !(await created(s, record, now)); tries++) {
        if (tries === CREATE_TRIES) {
          throw new SessionError('STORE_WRITE', `create: ${CREATE_TRIES} new session IDs were all taken`);
        }
        s.renew();
      }
      // A stateless cookie expires the chunk cookies it does not reuse, also those a commit of a session it
      // replaces set while in flight when create() counted them (manager.ts, chunksBefore).
      for (const old of s.replaces ?? []) {
        if (old.committing !== undefined) await old.committing.catch(() => undefined);
        s.cookie.chunks = Math.max(s.cookie.chunks, old.cookie.chunks);
      }
      const lines = await t.send(s.cookie, s.id, () => record, s.lifetime.maxAgeSec(now, times.expiresAt), now);
      // After the cookie is made (a sealed one may be too large: then nothing has changed, and no event says so).
      if (s.replaces !== undefined) await endReplaced(s, now, true);
      s.stored = true;
      s.forced = false;
      s.cookie.stale = false;
      written(s, times, undefined);
      // Checked here too: a new session and a write are every request's path, and need no event built for nobody.
      if (c.onEvent !== undefined) emit(c.onEvent, { type: 'created', ...subject(s.id, s.userId), at: now }, s.ctx);
      return lines;
    }

    case 'regenerate': {
      const previous = s.previousId!;
      if (now >= s.lifetime.storedExpiry && (await expiredMeanwhile(s, now))) return endedMeanwhile(s);
      const times = s.lifetime.times(now);
      const moving = t.regenerate(previous, s.id, s.values.changes(), times, whole(s, times));
      s.values.take(); // after the transport took what it sends (a sealed store builds the whole record at once)
      const stored = await moving;
      if (stored === null) return endedMeanwhile(s);
      const lines = await t.send(s.cookie, s.id, () => stored, s.lifetime.maxAgeSec(now, times.expiresAt), now);
      s.previousId = undefined;
      written(s, times, stored);
      const event = {
        type: 'regenerated',
        ...subject(s.id, s.userId),
        previousId: previous,
        previousMaskedId: maskId(previous),
        at: now,
      } as const;
      emit(c.onEvent, event, s.ctx);
      return lines;
    }

    case 'update': {
      if (now >= s.lifetime.storedExpiry && (await expiredMeanwhile(s, now))) return endedMeanwhile(s);
      const times = s.lifetime.times(now);
      const updating = t.update(s.id, s.values.changes(), times, whole(s, times));
      s.values.take(); // as for regenerate
      const stored = await updating;
      if (stored === null) return endedMeanwhile(s);
      const lines = await t.send(s.cookie, s.id, () => stored, s.lifetime.maxAgeSec(now, times.expiresAt), now);
      written(s, times, stored);
      if (c.onEvent !== undefined) emit(c.onEvent, { type: 'updated', ...subject(s.id, s.userId), at: now }, s.ctx);
      return lines;
    }

    case 'resend':
    case 'touch':
      // A resend is a touch too: a sealed cookie carries its times, and a signed ID goes out again only once the
      // store has said the session still lives (the touch's write), as for any cookie a read-only response sends.
      return touch(s, now);
  }
}

/**
 * `create` of the session's ID. If it times out, the record may still land, with no cookie ever naming it: the ID
 * is ended as well (a late create of an ended ID is refused), after the response if need be.
 */
async function created(s: SessionCore, record: SessionRecord, now: number): Promise<boolean> {
  const c = s.config;
  try {
    return await c.transport.create(s.id, record);
  } catch (error) {
    if (error instanceof SessionError && error.code === 'STORE_TIMEOUT') {
      const ending = endQuietly(s, now); // started now, with or without a ctx to wait for it
      s.ctx?.waitUntil(ending);
    }
    throw error;
  }
}

/**
 * An expiry-only write. It never fails the request. It is awaited even on Workers (not handed to `waitUntil`):
 * its cookie must not go out before the store has said the session is still live, or a response could re-send
 * the cookie of a session another request has just ended or moved, and overwrite that request's new cookie.
 */
async function touch(s: SessionCore, now: number): Promise<string[]> {
  const c = s.config;
  const t = c.transport;
  const id = s.id;
  let times: SessionTimes;
  let stored: SessionRecord | null;
  try {
    if (now >= s.lifetime.storedExpiry && (await expiredMeanwhile(s, now))) return endedMeanwhile(s);
    times = s.lifetime.times(now);
    stored = await t.update(id, {}, times, whole(s, times));
  } catch (error) {
    // An expiry-only write that fails (a KV 429, say) costs the user nothing yet: report it and go on.
    const e = error as SessionError;
    emit(c.onEvent, { type: 'error', operation: 'touch', error: e, ...subject(id, s.userId), at: now }, s.ctx);
    return [];
  }
  if (stored === null) return endedMeanwhile(s);
  const lines = await t.send(s.cookie, id, whole(s, times), s.lifetime.maxAgeSec(now, times.expiresAt), now);
  written(s, times, undefined);
  return lines;
}

/**
 * Whether a stored session this commit would write expired after the request read it. The store checks only the
 * expiry it holds, which may be later than today's settings give (a deploy shortened `idleTimeout` or added an
 * `absoluteTimeout`): its write would bring the session back. So past the expiry the request read (by today's
 * settings), the store is read again, and a session that expired is ended meanwhile; one that another request
 * wrote since is still written. Called only by a commit that lands past that expiry, which alone pays the read
 * (and the await: every other commit starts its write synchronously); a sealed cookie holds no other copy of
 * the session, and such a commit is refused.
 */
async function expiredMeanwhile(s: SessionCore, now: number): Promise<boolean> {
  const stored = await s.config.transport.reread(s.previousId ?? s.id);
  return stored === null || expiryReason(s.config, stored, now) !== undefined;
}

/**
 * A login's new session is stored (or ended before it was): the sessions it replaces end now, each by its ID as
 * stored, through its own manager's store (a login through another manager that shares the request's session),
 * once a write of it in flight is done. If one fails and `undo`, the new record goes too (a commit again tries
 * under a fresh ID) and the commit rejects, so the visitor keeps the session and cookie they had rather than
 * hold two live sessions.
 */
async function endReplaced(s: SessionCore, now: number, undo: boolean): Promise<void> {
  for (const old of s.replaces ?? []) {
    if (old.committing !== undefined) await old.committing.catch(() => undefined);
    if (!old.stored) continue;
    const c = old.config;
    const id = old.previousId ?? old.id;
    let ended: string | null;
    try {
      ended = wasLive(old, await c.transport.destroy(id, now + c.retainMs), now);
    } catch (error) {
      if (undo) {
        // A store without conditional writes (KV) would store a retry under this ended ID: the retry gets a new one.
        await endQuietly(s, now);
        s.renew();
      }
      throw error;
    }
    old.stored = false;
    old.previousId = undefined;
    if (ended !== null) emit(c.onEvent, { type: 'destroyed', ...subject(ended, old.userId), at: now }, old.ctx);
  }
  s.replaces = undefined;
}

/**
 * The ID a destroy of `s` ended, as a server-side store answers it: none once the session had expired. A stateless
 * transport ends whatever it is given (the cookie is all there is), so its answer is checked against the expiry
 * the request read: a slow logout that lands after the session expired reports no `destroyed` session.
 */
function wasLive(s: SessionCore, ended: string | null, now: number): string | null {
  return ended !== null && !s.config.transport.stateful && now >= s.lifetime.storedExpiry ? null : ended;
}

/**
 * Ends `s`'s new record after a create whose outcome is not known (it timed out, or the login is undone): a
 * record no cookie names must not stay live. It never throws; a failure is an `error` event, the record then
 * left to expire.
 */
async function endQuietly(s: SessionCore, now: number): Promise<void> {
  const c = s.config;
  const id = s.id;
  try {
    await c.transport.destroy(id, now + c.retainMs);
  } catch (error) {
    const e = error as SessionError;
    emit(c.onEvent, { type: 'error', operation: 'destroy', error: e, ...subject(id, s.userId), at: now }, s.ctx);
  }
}

/** The record as this request holds it, with `times`, built only if a transport asks for it. */
function whole(s: SessionCore, times: SessionTimes): Whole {
  return () => s.record(times);
}

function written(s: SessionCore, times: SessionTimes, stored: SessionRecord | undefined): void {
  s.lifetime.written(times);
  s.values.committed(s.config.transport.stateful ? stored : undefined);
}

/**
 * Another request ended (or moved) the session while this one held it: nothing is written and no cookie is
 * sent. The request that ended it sent the cookie the browser must keep (an expired one, or a newer session's);
 * a late response clearing the cookie could log out a newer login. A session found by ID (`getById`) rejects
 * with `NOT_FOUND` instead: no browser is told anything by its commit, so the admin code that changed it is the
 * only one to learn that its change was not stored.
 */
function endedMeanwhile(s: SessionCore): string[] {
  s.values.drop(); // nothing of it is written, nor in flight any more
  s.destroyed = true;
  s.stored = false;
  s.previousId = undefined;
  if (s.cookie.detached) throw new SessionError('NOT_FOUND', 'commit: the session ended or moved since getById');
  return [];
}
