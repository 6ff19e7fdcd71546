// One definition of "a number in a stored value", shared by the typed getters, `increment` and every store's
// merge: a stored "0x10" must not be 16 to one of them and unparsable to another.

/** Decimal notation only ("42", "-4.2", "1e3"): `Number()` alone would also take "0x10", "0b101" and "". */
const DECIMAL = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

/** A string of decimal digits: the notation `getBigInt` reads and a number past 2^53 must be exact in. */
const DIGITS = /^\s*[+-]?\d+\s*$/;

/**
 * The finite number a decoded value holds (a number, or a string in decimal notation), else undefined. A string
 * of digits past 2^53 that no number equals ("9007199254740993") is not a number: rounding it would lose what
 * `getBigInt` reads exactly.
 */
export function toNumber(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && DECIMAL.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(n)) return undefined;
  if (Number.isSafeInteger(n) || typeof value !== 'string' || !DIGITS.test(value)) return n;
  return BigInt(value.trim()) === BigInt(n) ? n : undefined;
}

/**
 * The integer a decoded value holds, exactly: a bigint, a safe integer, or a string of digits of any length.
 * A number past 2^53 is not taken: it may already have been rounded.
 */
export function toBigInt(value: unknown): bigint | undefined {
  if (typeof value === 'bigint') return value;
  if (Number.isSafeInteger(value)) return BigInt(value as number);
  return typeof value === 'string' && DIGITS.test(value) ? BigInt(value.trim()) : undefined;
}

/**
 * The number a stored JSON text holds, by `toNumber`; 0 when there is no text (a missing key counts as 0);
 * undefined for text that is not JSON or holds no number.
 */
export function numberInJson(text: string | undefined): number | undefined {
  if (text === undefined) return 0;
  try {
    return toNumber(JSON.parse(text));
  } catch {
    return undefined; // not JSON
  }
}
