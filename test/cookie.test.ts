import fc from 'fast-check';
import { CookiePairs, readCookie, serializeCookie, type CookieAttributes } from '../src/lib/cookie.js';
import { randomBytes, randomId } from '../src/lib/random.js';
import { byteLength, exceedsBytes, fromBase64Url, toBase64Url } from '../src/lib/encoding.js';
import { describe, expect, it } from './harness.js';

const defaults: CookieAttributes = {
  path: '/',
  domain: undefined,
  secure: true,
  httpOnly: true,
  sameSite: 'Lax',
  partitioned: false,
};

describe('readCookie (RFC 6265bis Cookie header)', () => {
  it('finds a cookie among others, with or without spaces', () => {
    expect(readCookie('a=1; sid=abc; b=2', 'sid')).toBe('abc');
    expect(readCookie('a=1;sid=abc;b=2', 'sid')).toBe('abc');
    expect(readCookie('  sid =\tabc\t ;b=2', 'sid')).toBe('abc');
  });

  it('returns undefined when absent or the header is missing', () => {
    expect(readCookie(null, 'sid')).toBeUndefined();
    expect(readCookie('', 'sid')).toBeUndefined();
    expect(readCookie('sidx=1; xsid=2; sid', 'sid')).toBeUndefined();
  });

  it('takes the first of duplicate names (the longest-Path cookie, RFC 6265bis §5.8.3)', () => {
    expect(readCookie('sid=A; sid=B', 'sid')).toBe('A');
  });

  it('compares names case-sensitively, so look-alike prefixes do not match', () => {
    expect(readCookie('__HOST-sid=evil; __host-sid=evil2; __Host-sid=good', '__Host-sid')).toBe('good');
  });

  it('splits on ";" only: "sid=A, sid=B" is one value', () => {
    expect(readCookie('sid=A, sid=B', 'sid')).toBe('A, sid=B');
  });

  it('removes one pair of surrounding double quotes and decodes nothing', () => {
    expect(readCookie('sid="abc"', 'sid')).toBe('abc');
    expect(readCookie('sid="', 'sid')).toBe('"');
    expect(readCookie('sid=%E0%A4%A', 'sid')).toBe('%E0%A4%A');
  });

  it('keeps empty values and values containing "="', () => {
    expect(readCookie('sid=; b=1', 'sid')).toBe('');
    expect(readCookie('sid=a=b=c', 'sid')).toBe('a=b=c');
  });

  it('never throws on control characters, NUL or non-ASCII', () => {
    expect(readCookie('x=\u0000\u0001; sid=v\u0000al; y=ü', 'sid')).toBe('v\u0000al');
    expect(readCookie('\uD800=\uDFFF; sid=ok', 'sid')).toBe('ok');
  });

  it('does linear work on a 100 KB header and on 1,000 pairs', () => {
    const big = `${'x'.repeat(100_000)}; sid=found`;
    expect(readCookie(big, 'sid')).toBe('found');
    const pairs = Array.from({ length: 1000 }, (_, i) => `c${i}=${i}`).join('; ');
    expect(readCookie(`${pairs}; sid=last`, 'sid')).toBe('last');
    const copies = Array.from({ length: 1000 }, (_, i) => `sid=${i}`).join('; ');
    expect(readCookie(copies, 'sid')).toBe('0');
    // Pieces without "=" (each once searched to the end of the header for one: quadratic).
    expect(readCookie(`${';'.repeat(100_000)}sid=v`, 'sid')).toBe('v');
    expect(readCookie(`${'a;'.repeat(50_000)}sid=v; b`, 'sid')).toBe('v');
    expect(readCookie(`${'a;'.repeat(50_000)}`, 'sid')).toBeUndefined();
    expect(readCookie('a; b; c=1; d; sid=2; e', 'sid')).toBe('2');
    expect(readCookie('a; b; c=1; d; sid=2; e', 'c')).toBe('1');
  });
});

describe('CookiePairs (every pair of a Cookie header, in one pass)', () => {
  /** Every pair as [name, value]. */
  function all(header: string): [string, string][] {
    const out: [string, string][] = [];
    const pairs = new CookiePairs(header);
    while (pairs.next()) out.push([header.slice(pairs.nameStart, pairs.nameEnd), pairs.value()]);
    return out;
  }

  /** The first pair called `name`, through CookiePairs: must be what readCookie answers. */
  function first(header: string, name: string): string | undefined {
    const pairs = new CookiePairs(header);
    while (pairs.next()) if (header.slice(pairs.nameStart, pairs.nameEnd) === name) return pairs.value();
    return undefined;
  }

  it('gives the pairs with "=" in order, trimmed and unquoted as readCookie reads them', () => {
    const header = '  a =\t1 ; b; c="q"; =e; sid=A, sid=B; a=2;;d=; "x"=y';
    expect(all(header)).toEqual([
      ['a', '1'],
      ['c', 'q'],
      ['', 'e'],
      ['sid', 'A, sid=B'],
      ['a', '2'],
      ['d', ''],
      ['"x"', 'y'],
    ]);
    for (const name of ['a', 'b', 'c', '', 'sid', 'd', '"x"', 'x'])
      expect(first(header, name)).toBe(readCookie(header, name));
    expect(all('')).toEqual([]);
    expect(all('a; b; c')).toEqual([]);
  });

  it('agrees with readCookie on random headers', () => {
    const piece = fc.oneof(
      fc.constantFrom(';', '=', ' ', '\t', '"', ',', '.', 'sid', 'sid.1', 'a', '1'),
      fc.integer({ min: 1, max: 255 }).map((c) => String.fromCharCode(c)),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 60 }), (pieces) => {
        const header = pieces.join('');
        for (const name of ['sid', 'sid.1', 'a', '']) expect(first(header, name)).toBe(readCookie(header, name));
      }),
      { numRuns: 1000 },
    );
  });

  it('does linear work on headers of many pieces without "="', () => {
    expect(all(`${';'.repeat(100_000)}sid=v`)).toEqual([['sid', 'v']]);
    expect(all(`${'a;'.repeat(50_000)}sid=v; b`)).toEqual([['sid', 'v']]);
    expect(all(`${'a;'.repeat(50_000)}`)).toEqual([]);
  });
});

describe('serializeCookie (Set-Cookie)', () => {
  it('writes the secure defaults', () => {
    expect(serializeCookie('sid', 'v', defaults, undefined, 0)).toBe('sid=v; Path=/; HttpOnly; Secure; SameSite=Lax');
  });

  it('writes Max-Age and the matching Expires together', () => {
    const now = Date.UTC(2026, 0, 1);
    expect(serializeCookie('sid', 'v', defaults, 3600, now)).toBe(
      'sid=v; Path=/; Max-Age=3600; Expires=Thu, 01 Jan 2026 01:00:00 GMT; HttpOnly; Secure; SameSite=Lax',
    );
  });

  it('expires a cookie with Max-Age=0 and an Expires in 1970', () => {
    expect(serializeCookie('sid', '', defaults, 0, 123)).toBe(
      'sid=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Lax',
    );
  });

  it('writes Domain only when configured, and Partitioned', () => {
    const line = serializeCookie(
      'sid',
      'v',
      { ...defaults, domain: 'example.com', partitioned: true, sameSite: 'None' },
      undefined,
      0,
    );
    expect(line).toBe('sid=v; Path=/; Domain=example.com; HttpOnly; Secure; SameSite=None; Partitioned');
  });
});

describe('base64url', () => {
  it('round-trips every length', () => {
    for (let n = 0; n < 40; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 255);
      expect(fromBase64Url(toBase64Url(bytes))).toEqual(bytes);
    }
  });

  it('refuses padding, +/, whitespace, impossible lengths and non-canonical last characters', () => {
    expect(fromBase64Url('AAA=')).toBeNull();
    expect(fromBase64Url('a+b/')).toBeNull();
    expect(fromBase64Url('AA AA')).toBeNull();
    expect(fromBase64Url('A')).toBeNull();
    expect(fromBase64Url('AB')).toBeNull(); // 'B' leaves a non-zero unused bit
    expect(fromBase64Url('AA')).toEqual(new Uint8Array([0]));
    expect(fromBase64Url('ü')).toBeNull();
  });
});

describe('base64url against a reference decoder', () => {
  // Bit by bit, as RFC 4648 §5 reads: the runtime's native decoder (workerd, Deno, Bun) and the loop (Node 20)
  // must both agree with it, including on which spellings are refused.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  function reference(text: string): Uint8Array | null {
    if (text.length % 4 === 1) return null;
    let bits = '';
    for (const ch of text) {
      const v = alphabet.indexOf(ch);
      if (v < 0) return null;
      bits += v.toString(2).padStart(6, '0');
    }
    const whole = bits.length - (bits.length % 8);
    if (/1/.test(bits.slice(whole))) return null;
    const out = new Uint8Array(whole / 8);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(bits.slice(i * 8, i * 8 + 8), 2);
    return out;
  }

  it('encodes as the reference does, at every length of a group and past a seal', () => {
    const encode = (bytes: Uint8Array) => {
      const bits = [...bytes].map((b) => b.toString(2).padStart(8, '0')).join('');
      let out = '';
      for (let i = 0; i < bits.length; i += 6) out += alphabet[parseInt(bits.slice(i, i + 6).padEnd(6, '0'), 2)];
      return out;
    };
    for (const n of [0, 1, 2, 3, 4, 5, 17, 18, 32, 47, 48, 49, 50, 51, 250, 251, 252, 3000]) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 151 + n * 7) & 255);
      expect(toBase64Url(bytes)).toBe(encode(bytes));
    }
  });

  it('decodes and refuses exactly what the reference does', () => {
    const extra = '=+/ .\n\u00e9';
    let seed = 7;
    const random = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
    for (let round = 0; round < 3000; round++) {
      const len = random(24);
      let text = '';
      for (let i = 0; i < len; i++) text += random(20) === 0 ? extra[random(extra.length)] : alphabet[random(64)];
      expect(fromBase64Url(text), JSON.stringify(text)).toEqual(reference(text));
    }
    for (const text of ['AAB', 'AAE', 'AAC', 'AQ', 'AR', ''])
      expect(fromBase64Url(text), text).toEqual(reference(text));
  });
});

describe('randomBytes (the CSPRNG pool)', () => {
  it('hands out each byte once, across pool refills, in views that never overlap', () => {
    const draws = Array.from({ length: 300 }, (_, i) => randomBytes(i % 2 === 0 ? 18 : 12)); // ~4.5 pools
    const seen = new Map<ArrayBufferLike, Array<[number, number]>>();
    for (const d of draws) {
      const ranges = seen.get(d.buffer) ?? [];
      for (const [start, end] of ranges) expect(d.byteOffset >= end || d.byteOffset + d.length <= start).toBe(true);
      ranges.push([d.byteOffset, d.byteOffset + d.length]);
      seen.set(d.buffer, ranges);
    }
    expect(seen.size).toBeGreaterThanOrEqual(4);
    const texts = new Set(draws.map((d) => toBase64Url(d)));
    expect(texts.size).toBe(draws.length);
    // 144 random bits per ID: 300 of them all distinct, none all zeros.
    const ids = new Set(Array.from({ length: 300 }, () => randomId()));
    expect(ids.size).toBe(300);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(ids.has('A'.repeat(24))).toBe(false);
  });
});

describe('UTF-8 sizes', () => {
  it('byteLength and exceedsBytes agree with TextEncoder at every boundary', () => {
    const samples = [
      '',
      'a',
      'é',
      '€',
      '😀',
      'a😀é€',
      '\ud800',
      'x\udc00y',
      'a'.repeat(100),
      '€'.repeat(40),
      '😀'.repeat(30),
    ];
    for (const text of samples) {
      const bytes = new TextEncoder().encode(text).length;
      expect(byteLength(text), JSON.stringify(text)).toBe(bytes);
      for (const max of [0, bytes - 1, bytes, bytes + 1, text.length, text.length * 3]) {
        if (max >= 0) expect(exceedsBytes(text, max), `${JSON.stringify(text)} ${max}`).toBe(bytes > max);
      }
    }
  });
});
