// One definition of "a number in a stored value", shared by the typed getters, `increment` and every store's
// merge: a stored "0x10" must not be 16 to one of them and unparsable to another.

/** Decimal notation only ("42", "-4.2", "1e3"): `Number()` alone would also take "0x10", "0b101" and "". */
const DECIMAL = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

/** The finite number a decoded value holds (a number, or a string in decimal notation), else undefined. */
export function toNumber(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && DECIMAL.test(value) ? Number(value) : NaN;
  return Number.isFinite(n) ? n : undefined;
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
