// The few web-platform globals that src/ uses, declared by hand so that `lib` holds no DOM, Node, Deno or
// Bun types: anything not listed here cannot be used by accident. Every runtime we target (workerd, Deno,
// Bun, Node >= 20, browsers) provides these with at least these members. This file is not emitted; the
// published .d.ts files refer to the consumer's own `Request`, `Response` and `Headers`.

interface Headers {
  append(name: string, value: string): void;
  delete(name: string): void;
  get(name: string): string | null;
  has(name: string): boolean;
  set(name: string, value: string): void;
  forEach(callback: (value: string, key: string, parent: Headers) => void): void;
  getSetCookie(): string[];
}
declare var Headers: { prototype: Headers; new (init?: [string, string][] | Headers): Headers };

interface Request {
  readonly headers: Headers;
  readonly method: string;
  readonly url: string;
}
// Constructed only by edge-sessions/testing (sessionCookie, the suites' requests).
declare var Request: {
  prototype: Request;
  new (input: string, init?: { method?: string; headers?: Record<string, string> | Headers }): Request;
};

interface ResponseInit {
  status?: number;
  statusText?: string;
  headers?: Headers | [string, string][] | Record<string, string>;
}
interface Response {
  readonly headers: Headers;
  readonly status: number;
  readonly statusText: string;
  readonly body: unknown;
  readonly type: string;
}
declare var Response: { prototype: Response; new (body?: unknown, init?: ResponseInit | Response): Response };

// Read only by edge-sessions/testing's cookie jar, for the request URL a cookie is set from and sent to.
interface URL {
  readonly protocol: string;
  readonly hostname: string;
  readonly pathname: string;
}
declare var URL: { prototype: URL; new (url: string | URL): URL };

interface CryptoKey {
  readonly type: string;
  readonly algorithm: unknown;
}
interface SubtleCrypto {
  importKey(
    format: 'raw',
    keyData: Uint8Array,
    algorithm: { name: string; hash?: string; length?: number },
    extractable: boolean,
    keyUsages: string[],
  ): Promise<CryptoKey>;
  sign(algorithm: string | { name: string }, key: CryptoKey, data: Uint8Array): Promise<ArrayBuffer>;
  verify(
    algorithm: string | { name: string },
    key: CryptoKey,
    signature: Uint8Array,
    data: Uint8Array,
  ): Promise<boolean>;
  encrypt(
    algorithm: { name: string; iv: Uint8Array; additionalData?: Uint8Array },
    key: CryptoKey,
    data: Uint8Array,
  ): Promise<ArrayBuffer>;
  decrypt(
    algorithm: { name: string; iv: Uint8Array; additionalData?: Uint8Array },
    key: CryptoKey,
    data: Uint8Array,
  ): Promise<ArrayBuffer>;
  deriveKey(
    algorithm: { name: string; hash: string; salt: Uint8Array; info: Uint8Array },
    baseKey: CryptoKey,
    derivedKeyType: { name: string; length: number; hash?: string },
    extractable: boolean,
    keyUsages: string[],
  ): Promise<CryptoKey>;
  deriveBits(
    algorithm: { name: string; hash: string; salt: Uint8Array; info: Uint8Array },
    baseKey: CryptoKey,
    length: number,
  ): Promise<ArrayBuffer>;
  digest(algorithm: string, data: Uint8Array): Promise<ArrayBuffer>;
}
interface Crypto {
  readonly subtle: SubtleCrypto;
  getRandomValues<T extends Uint8Array>(array: T): T;
  randomUUID(): string;
}

declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  decode(input?: Uint8Array): string;
}

declare function setTimeout(callback: () => void, ms: number): unknown;
declare function clearTimeout(handle: unknown): void;
