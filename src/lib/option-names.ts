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
  if (!isObject(options)) {
    throw new SessionError(
      'INVALID_OPTION',
      `${where}: options must be an object or undefined, got ${kindOf(options)}`,
    );
  }
  for (const name of Object.keys(options)) {
    if (!known.has(name)) throw new SessionError('INVALID_OPTION', `${where}: unknown option "${name}"`);
  }
}

/** An object of named values: not null, not an array, not a primitive. */
export function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What `value` is, for an error message: `null`, `an array`, or its type. */
export function kindOf(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}

/** `value`, for an error message: a string in quotes, a primitive as itself, anything else by its kind. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return kindOf(value);
}

/**
 * Refuses a value of `options` under `name` that is not a boolean (undefined too, unless `optional`): truthiness
 * would otherwise decide in silence (`'false'` is true).
 */
export function refuseNonBoolean(where: string, options: object, name: string, optional = true): void {
  const value = (options as Record<string, unknown>)[name];
  if (optional && value === undefined) return;
  if (typeof value !== 'boolean') {
    throw new SessionError('INVALID_OPTION', `${where}: ${name} must be true or false, got ${describeValue(value)}`);
  }
}

/** A store's `now` option: undefined for `Date.now`, else a function (anything else fails at construction). */
export function clockOption(where: string, now: unknown): () => number {
  if (now === undefined) return Date.now;
  if (typeof now !== 'function') {
    throw new SessionError('INVALID_OPTION', `${where}: now must be a function, got ${kindOf(now)}`);
  }
  // Called once: a clock returning a Date (Go's time.Now() habit) or a string would otherwise make every
  // expiry NaN, and every cookie `Max-Age=NaN`, with no error anywhere.
  const sample: unknown = now();
  if (typeof sample !== 'number' || !Number.isFinite(sample)) {
    throw new SessionError(
      'INVALID_OPTION',
      `${where}: now must return epoch milliseconds (a finite number), got ` +
        (sample instanceof Date ? 'a Date (use date.getTime())' : describeValue(sample)),
    );
  }
  return now as () => number;
}

/**
 * Refuses a store's backend (a binding, a client, a database) without the methods the store calls: a binding
 * missing from the Worker's configuration is `undefined`, an `INVALID_OPTION` here rather than a TypeError on
 * the first request. Nothing is called.
 */
export function requireMethods(where: string, what: string, backend: unknown, methods: readonly string[]): void {
  const has = (m: string) => typeof (backend as Record<string, unknown> | null | undefined)?.[m] === 'function';
  const missing = methods.filter((m) => !has(m));
  if (missing.length > 0) {
    throw new SessionError(
      'INVALID_OPTION',
      `${where}: ${what} needs ${methods.map((m) => `${m}()`).join(', ')}; got ${kindOf(backend)} without ` +
        missing.map((m) => `${m}()`).join(', '),
    );
  }
}
