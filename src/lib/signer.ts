// TEMPORARY shim: the new Signer interface over the old signer (replaced by the crypto branch).
import { isTagShaped, signerFor as oldSignerFor } from './crypto.js';
import { ID_PATTERN } from './ids.js';

export interface OpenedValue {
  readonly id: string;
  readonly secret: number;
}

export interface Signer {
  sign(id: string): Promise<string>;
  open(value: string): OpenedValue | 'malformed' | 'signature' | Promise<OpenedValue | 'signature'>;
}

export function signerFor(secrets: readonly string[], cookieName: string): Signer {
  const old = oldSignerFor(secrets, cookieName);
  return {
    async sign(id) {
      return `${id}.${await old.sign(id)}`;
    },
    open(value) {
      const dot = value.indexOf('.');
      const id = value.slice(0, dot);
      const tag = value.slice(dot + 1);
      if (dot <= 0 || !ID_PATTERN.test(id) || !isTagShaped(tag)) return 'malformed';
      const key = old.check(id, tag, value);
      if (typeof key === 'number') return key < 0 ? 'signature' : { id, secret: key };
      return key.then((k) => (k < 0 ? 'signature' : { id, secret: k }));
    },
  };
}
