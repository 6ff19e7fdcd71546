import { SessionError } from '../errors.js';

/**
 * Refuses a name the options object does not define (`maxAge`, `idle_timeout`, `encrpyt`): plain JavaScript
 * callers get the same protection as TypeScript ones, instead of silent defaults.
 */
export function refuseUnknownOptions(where: string, options: object, known: ReadonlySet<string>): void {
  for (const name of Object.keys(options)) {
    if (!known.has(name)) throw new SessionError('INVALID_OPTION', `${where}: unknown option "${name}"`);
  }
}
