import { SessionError } from '../errors.js';
import type { Serializer } from './options.js';

/**
 * Encodes one value. With the default JSON serializer the value is first checked to be JSON data, so that what
 * comes back from the store is what was set: functions, symbols, BigInt, non-finite numbers, Dates, Maps,
 * class instances and cycles are refused here, at `set()`, rather than silently changed by JSON.stringify.
 */
export function encodeValue(serializer: Serializer, json: boolean, key: string, value: unknown): string {
  let text: unknown;
  try {
    if (json) checkJson(value, key, []);
    text = serializer.stringify(value);
  } catch (cause) {
    if (cause instanceof SessionError) throw cause;
    throw new SessionError('UNSERIALIZABLE', `value of "${key}" cannot be serialized`, { cause });
  }
  if (typeof text !== 'string')
    throw new SessionError('UNSERIALIZABLE', `serializer.stringify returned no string for "${key}"`);
  return text;
}

function checkJson(value: unknown, path: string, ancestors: object[]): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (Number.isFinite(value)) return;
      throw unserializable(path, `${value} is not a finite number`);
    case 'object': {
      if (value === null) return;
      if (ancestors.includes(value)) throw unserializable(path, 'it is circular');
      if (ancestors.length > 64) throw unserializable(path, 'it is nested more than 64 levels deep');
      ancestors.push(value);
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          if (value[i] === undefined) throw unserializable(`${path}[${i}]`, 'undefined in an array becomes null');
          checkJson(value[i], `${path}[${i}]`, ancestors);
        }
      } else {
        const proto: unknown = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null) {
          const kind = (value as { constructor?: { name?: string } }).constructor?.name ?? 'object';
          throw unserializable(path, `a ${kind} is not JSON data (pass a serializer to store it)`);
        }
        for (const k of Object.keys(value)) {
          const v = (value as Record<string, unknown>)[k];
          if (v !== undefined) checkJson(v, `${path}.${k}`, ancestors);
        }
      }
      ancestors.pop();
      return;
    }
    default:
      // function, symbol, bigint, undefined
      throw unserializable(path, `a ${typeof value} is not JSON data`);
  }
}

function unserializable(path: string, why: string): SessionError {
  return new SessionError('UNSERIALIZABLE', `cannot store "${path}": ${why}`);
}

/** Decodes one value; a stored value that no longer parses is a store problem, reported as such. */
export function decodeValue(serializer: Serializer, key: string, text: string): unknown {
  try {
    return serializer.parse(text);
  } catch (cause) {
    throw new SessionError('STORE_READ', `stored value of "${key}" cannot be parsed`, { cause });
  }
}

/** A plain object built without ever assigning through `__proto__` (no prototype pollution). */
export function toObject<T>(entries: Iterable<[string, T]>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [k, v] of entries) {
    if (k === '__proto__')
      Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    else out[k] = v;
  }
  return out;
}

/** A record's strings (`isRecord` has checked them: every value a string) as a Map; empty for none. */
export function toMap(values: Readonly<Record<string, string>> | undefined): Map<string, string> {
  const map = new Map<string, string>();
  if (values !== undefined) for (const k of Object.keys(values)) map.set(k, values[k]!);
  return map;
}
