import { getRandomValues, subtle } from 'uncrypto';
import { describe, expect, it } from 'vitest';
import { HmacKey, sha256 } from '../src/lib/hmac-sha256.js';

// The JavaScript SHA-256 and HMAC-SHA256 against the runtime's WebCrypto, on every runtime the suite runs on.

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const ascii = (text: string) => new TextEncoder().encode(text);
/** Random bytes of any length (getRandomValues fills at most 65,536 bytes per call). */
function random(length: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i += 65_536) getRandomValues(bytes.subarray(i, i + 65_536));
  return bytes;
}
/** Every length up to three blocks (the padding's one- and two-block cases), and some long messages. */
const LENGTHS = [...Array.from({ length: 193 }, (_, i) => i), 255, 256, 1000, 4096, 4096 + 55, 40_000];

async function webHmac(key: Uint8Array<ArrayBuffer>, message: Uint8Array<ArrayBuffer>): Promise<string> {
  const imported = await subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return hex(new Uint8Array(await subtle.sign('HMAC', imported, message)));
}

describe('SHA-256 and HMAC-SHA256 in JavaScript', () => {
  it('gives the known answers (FIPS 180-4 examples, RFC 4231 test cases 1, 2 and 6)', () => {
    expect(hex(sha256(ascii('')))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(hex(sha256(ascii('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hex(sha256(ascii('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')))).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
    const case1 = new HmacKey(new Uint8Array(20).fill(0x0b)).mac(ascii('Hi There'));
    expect(hex(case1)).toBe('b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7');
    const case2 = new HmacKey(ascii('Jefe')).mac(ascii('what do ya want for nothing?'));
    expect(hex(case2)).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
    // A key longer than a block is hashed first.
    const case6 = new HmacKey(new Uint8Array(131).fill(0xaa)).mac(
      ascii('Test Using Larger Than Block-Size Key - Hash Key First'),
    );
    expect(hex(case6)).toBe('60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54');
  });

  it('hashes as WebCrypto does, for every length up to three blocks and long messages', async () => {
    for (const length of LENGTHS) {
      const message = random(length);
      const expected = hex(new Uint8Array(await subtle.digest('SHA-256', message)));
      expect(hex(sha256(message)), `${length} bytes`).toBe(expected);
    }
  });

  it('signs as WebCrypto does, for keys around the block size and every message length', async () => {
    for (const keyLength of [1, 32, 44, 63, 64, 65, 200]) {
      const keyBytes = random(keyLength);
      const key = new HmacKey(keyBytes);
      for (const length of LENGTHS) {
        const message = random(length);
        expect(hex(key.mac(message)), `key ${keyLength} bytes, message ${length} bytes`).toBe(
          await webHmac(keyBytes, message),
        );
      }
    }
  });

  it('a key gives the same tags however often it is used, and leaves the caller’s bytes as they were', () => {
    const keyBytes = random(44);
    const copy = keyBytes.slice();
    const key = new HmacKey(keyBytes);
    expect(keyBytes).toEqual(copy);
    const message = random(100);
    const first = hex(key.mac(message));
    key.mac(random(3000)); // another message in between: no state carries over
    expect(hex(key.mac(message))).toBe(first);
    expect(hex(new HmacKey(copy).mac(message))).toBe(first);
  });

  it('verifies its own tag and refuses any other: each bit flipped, cut, lengthened, or another message', () => {
    const key = new HmacKey(random(32));
    const message = random(40);
    const tag = key.mac(message);
    expect(key.verify(tag, message)).toBe(true);
    for (let bit = 0; bit < 256; bit++) {
      const forged = tag.slice();
      forged[bit >> 3]! ^= 1 << (bit & 7);
      expect(key.verify(forged, message), `bit ${bit}`).toBe(false);
    }
    expect(key.verify(tag.subarray(0, 31), message)).toBe(false);
    expect(key.verify(new Uint8Array([...tag, 0]), message)).toBe(false);
    expect(key.verify(new Uint8Array(0), message)).toBe(false);
    const other = message.slice();
    other[39]! ^= 1;
    expect(key.verify(tag, other)).toBe(false);
    expect(new HmacKey(random(32)).verify(tag, message)).toBe(false);
  });

  it('tags and verifies a prefix of a buffer as that prefix alone, whatever follows it in the buffer', () => {
    const key = new HmacKey(random(44));
    const buffer = random(3 * 64 + 10);
    for (const length of [0, 1, 40, 55, 56, 64, 119, 120, 128, 3 * 64 + 10]) {
      const prefix = buffer.slice(0, length);
      const tag = key.mac(prefix);
      expect(hex(key.mac(buffer, length)), `${length} bytes`).toBe(hex(tag));
      expect(key.verify(tag, buffer, length), `${length} bytes`).toBe(true);
      if (length < buffer.length) expect(key.verify(tag, buffer, length + 1), `${length} + 1 bytes`).toBe(false);
    }
    // A length past the buffer is a caller's mistake, never zeros hashed in silence.
    expect(() => key.mac(buffer, buffer.length + 1)).toThrow(RangeError);
    expect(() => key.verify(key.mac(buffer), buffer, buffer.length + 1)).toThrow(RangeError);
  });
});
