// One definition of "a number in a stored value", shared by the typed getters, `increment` and every store's
// merge: a stored "0x10" must not be 16 to one of them and unparsable to another.

/** Decimal notation only ("42", "-4.2", "1e3"): `Number()` alone would also take "0x10", "0b101" and "". */
const DECIMAL = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

/** A string of decimal digits: the notation `getBigInt` reads. */
const DIGITS = /^\s*[+-]?\d+\s*$/;

/** The parts of a string DECIMAL accepts: sign, integer digits, fraction digits, exponent. */
const PARTS = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/**
 * The finite number a decoded value holds (a number, or a string in decimal notation), else undefined.
 * The rule for a string: it reads as `Number()` reads it (to the nearest number, so "0.1" and "1.5e3" are
 * numbers), unless that gives a number of magnitude 2^53 or more (past Number.MAX_SAFE_INTEGER, all integers):
 * then the string must be exactly that integer, in any notation, or it is not a number. "9007199254740993",
 * "9007199254740993.0", "9.007199254740993e15", "9007199254740992.5" and "1e23" are refused (no number equals
 * them: rounding would lose what `getBigInt` reads exactly, or invent digits); "9007199254740992" and
 * "9.007199254740992e15" are read.
 */
export function toNumber(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && DECIMAL.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(n)) return undefined;
  if (typeof value !== 'string' || Number.isSafeInteger(n) || !Number.isInteger(n)) return n;
  return exactly(value, n) ? n : undefined;
}

/** Whether `text` (in DECIMAL's notation) stands for exactly the integer `n`, computed on bigints. */
function exactly(text: string, n: number): boolean {
  const [, sign = '', whole = '', fraction = '', exponent = '0'] = PARTS.exec(text.trim()) ?? [];
  const digits = whole + fraction;
  // The value is digits × 10^shift. n is finite and at least 2^53, so a positive shift is at most ~308.
  const shift = Number(exponent) - fraction.length;
  let integer: bigint;
  if (shift >= 0) {
    integer = BigInt(digits) * 10n ** BigInt(shift);
  } else {
    const cut = digits.length + shift;
    if (cut <= 0 || !/^0*$/.test(digits.slice(cut))) return false; // a fractional part: not an integer
    integer = BigInt(digits.slice(0, cut));
  }
  return (sign === '-' ? -integer : integer) === BigInt(n);
}

/**
 * The integer a decoded value holds, exactly: a bigint, a safe integer, a string of digits of any length, or a
 * string `toNumber` reads as an integer ("1e3", "4.0": what `getInt` reads, `getBigInt` reads too; past 2^53
 * `toNumber` takes only a string that is exactly its integer). A number past 2^53 is not taken: it may already
 * have been rounded.
 */
export function toBigInt(value: unknown): bigint | undefined {
  if (typeof value === 'bigint') return value;
  if (Number.isSafeInteger(value)) return BigInt(value as number);
  if (typeof value !== 'string') return undefined;
  if (DIGITS.test(value)) return BigInt(value.trim());
  const n = toNumber(value);
  return n !== undefined && Number.isInteger(n) ? BigInt(n) : undefined;
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

/**
 * Whether the result of an increment can be stored: finite, and within ±Number.MAX_SAFE_INTEGER. Past it every
 * number is an integer that `base + by` may have rounded (2^53 + 1 is 2^53), so the sum would silently differ from
 * the arithmetic, and a value the library wrote would be one that `getBigInt` refuses. Used by `increment` and by
 * every store's merge alike.
 */
export function exactSum(sum: number): boolean {
  return Number.isFinite(sum) && Math.abs(sum) <= Number.MAX_SAFE_INTEGER;
}
