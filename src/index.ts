export { createSessions } from './manager.js';
export type { CreateOptions, SessionHandler, SessionInfo, Sessions } from './manager.js';
export { commitAll, Session } from './session.js';
export { SessionError } from './errors.js';
export type { SessionErrorCode } from './errors.js';
export { mergeChanges } from './lib/merge.js';
export type { BackgroundContext, SessionEvent } from './lib/events.js';
export type { CookieOptions, SameSiteOption, Serializer, SessionsOptions } from './lib/options.js';
export type {
  Sealer,
  SessionChanges,
  SessionRecord,
  SessionStore,
  SessionTimes,
  StatelessStore,
  UserSession,
} from './lib/store-contract.js';
export type { CookieAttributes } from './lib/cookie.js';
