import { SessionError } from '../errors.js';

/**
 * Refuses options that are not an object (`null`, a string, an array: only an omitted, `undefined` argument means
 * the defaults) and any name the options object does not define (`maxAge`, `idle_timeout`, `encrpyt`): plain
 * JavaScript callers get the same protection as TypeScript ones, an `INVALID_OPTION` instead of a TypeError or
 * silent defaults.
 */
export function refuseUnknownOptions(
  where: string,
  options: unknown,
  known: ReadonlySet<string>,
): asserts options is object {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    const got = options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options;
    throw new SessionError('INVALID_OPTION', `${where}: options must be an object or undefined, got ${got}`);
  }
  for (const name of Object.keys(options)) {
    if (!known.has(name)) throw new SessionError('INVALID_OPTION', `${where}: unknown option "${name}"`);
  }
}
