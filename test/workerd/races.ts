// A request that read its session before another request destroyed it, then commits: shared by the stores that
// apply changes with update() (KV at the destroying location, Durable Objects everywhere).
import type { Session, Sessions } from '../../src/index.js';
import { expect } from '../harness.js';
import { request } from '../helpers.js';

/** `change` on a session read before `destroy`; its commit expires the cookie and the session stays destroyed. */
export async function expectDestroyedMeanwhileStaysDestroyed(sessions: Sessions, cookie: string, change: (stale: Session) => void): Promise<Session> {
  const stale = await sessions.start(request(cookie));
  await sessions.destroy(request(cookie));
  change(stale);
  expect((await stale.commit()).getSetCookie()[0]).toMatch(/Max-Age=0/);
  expect((await sessions.start(request(cookie))).isNew).toBe(true);
  return stale;
}
