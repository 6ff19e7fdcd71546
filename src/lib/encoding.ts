const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const LOOKUP = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) LOOKUP[ALPHABET.charCodeAt(i)] = i;

export const utf8 = new TextEncoder();
// Only the cookie store decodes text (sealed or signed): marked pure so that a bundle without it drops it.
export const utf8Strict = /* @__PURE__ */ new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

// Native base64 (`Uint8Array.prototype.toBase64`, `Uint8Array.fromBase64`: workerd, Deno and Bun, not Node 20) where
// the runtime has it (faster in workerd for a seal's length, measured while writing this); the loops below
// everywhere else, and for decoding short texts such as a 43-character tag, where the native call's set-up
// cost more than the loop.
const BASE64URL = { alphabet: 'base64url', omitPadding: true } as const;
const native = Uint8Array as unknown as {
  fromBase64?: (text: string, options: typeof BASE64URL) => Uint8Array<ArrayBuffer>;
  prototype: { toBase64?: (options: typeof BASE64URL) => string };
};
const nativeFrom = native.fromBase64;
const nativeTo = typeof native.prototype.toBase64 === 'function' && typeof nativeFrom === 'function';
const BASE64URL_TEXT = /^[A-Za-z0-9_-]*$/;

/** The alphabet as ASCII bytes, and a decoder that turns such bytes into a string in one native call. */
const ALPHABET_BYTES = /* @__PURE__ */ utf8.encode(ALPHABET);
const ascii = /* @__PURE__ */ new TextDecoder();

/** Longer inputs than this are written as bytes and decoded once; shorter ones are joined as a string. */
const SHORT_BYTES = 48;

/** base64url without padding (RFC 4648 §5). */
export function toBase64Url(bytes: Uint8Array): string {
  if (nativeTo) return (bytes as unknown as { toBase64(options: typeof BASE64URL): string }).toBase64(BASE64URL);
  // A last group of 1 or 2 bytes is padded with zero bits; the characters past the data are cut at `length`.
  const length = Math.ceil((bytes.length * 4) / 3);
  // An ID or a tag: appending to a string is cheapest, as the decoder's call has a fixed cost.
  if (bytes.length <= SHORT_BYTES) {
    let out = '';
    for (let i = 0; i < bytes.length; i += 3) {
      const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
      out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! + ALPHABET[n & 63]!;
    }
    return out.slice(0, length);
  }
  // A seal or a signed payload: appending would make a new string per group (kilobytes of garbage per cookie).
  const out = new Uint8Array(Math.ceil(bytes.length / 3) * 4);
  for (let i = 0, o = 0; i < bytes.length; i += 3, o += 4) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out[o] = ALPHABET_BYTES[n >> 18]!;
    out[o + 1] = ALPHABET_BYTES[(n >> 12) & 63]!;
    out[o + 2] = ALPHABET_BYTES[(n >> 6) & 63]!;
    out[o + 3] = ALPHABET_BYTES[n & 63]!;
  }
  return ascii.decode(out.subarray(0, length));
}

/**
 * Strict base64url decoding: only the URL-safe alphabet, no padding, no whitespace, and canonical (the unused
 * low bits of the last character must be zero), so each byte string has exactly one accepted spelling.
 * Returns null for anything else. By the loop alone: for short texts such as a 43-character tag, where the
 * native call's set-up costs more than the loop (long texts: `fromLongBase64Url`).
 */
export function fromBase64Url(text: string): Uint8Array<ArrayBuffer> | null {
  const len = text.length;
  if (len % 4 === 1) return null;
  const out = new Uint8Array((len * 3) >> 2);
  let o = 0;
  let buffer = 0;
  let bits = 0;
  for (let i = 0; i < len; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? LOOKUP[c]! : -1;
    if (v < 0) return null;
    buffer = ((buffer << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (buffer >> bits) & 0xff;
    }
  }
  if (bits > 0 && (buffer & ((1 << bits) - 1)) !== 0) return null;
  return out;
}

/**
 * `fromBase64Url` for texts of any length, such as a seal: the same answer, by the runtime's native decoder for
 * texts over 64 characters where it has one. Apart from `fromBase64Url` so that a bundle that decodes nothing
 * longer than a tag leaves the native path out.
 */
export function fromLongBase64Url(text: string): Uint8Array<ArrayBuffer> | null {
  const len = text.length;
  if (!nativeTo || len <= 64) return fromBase64Url(text);
  // The native decoder also takes padding and whitespace, and ignores the unused low bits: check first.
  if (len % 4 === 1 || !BASE64URL_TEXT.test(text)) return null;
  const last = len % 4 === 0 ? 0 : LOOKUP[text.charCodeAt(len - 1)]! & (len % 4 === 2 ? 15 : 3);
  return last === 0 ? nativeFrom!(text, BASE64URL) : null;
}

/**
 * Whether `text` takes more than `max` bytes in UTF-8, counting only when the answer is not already known from its
 * length: each UTF-16 unit is 1 to 3 bytes (a surrogate pair, 2 units, is 4).
 */
export function exceedsBytes(text: string, max: number): boolean {
  return text.length > max || (text.length * 3 > max && byteLength(text) > max);
}

/** UTF-8 byte length without allocating. */
export function byteLength(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}
