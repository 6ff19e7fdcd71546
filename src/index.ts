export { createSessions } from './manager.js';
export type { CreateOptions, SessionHandler, Sessions } from './manager.js';
export { Session } from './session.js';
export { SessionError } from './errors.js';
export type { SessionErrorCode } from './errors.js';
export type {
  BackgroundContext,
  CookieOptions,
  SameSiteOption,
  Sealer,
  Serializer,
  SessionChanges,
  SessionEvent,
  SessionRecord,
  SessionsOptions,
  SessionStore,
} from './lib/types.js';
export type { CookieAttributes } from './lib/cookie.js';
