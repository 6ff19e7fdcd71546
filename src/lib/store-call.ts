import { SessionError, type SessionErrorCode } from '../errors.js';

/** What a store call needs of the manager's configuration. */
export interface StoreCallConfig {
  readonly storeName: string;
  readonly storeTimeoutMs: number | undefined;
}

/**
 * Runs a store call, turning any failure into a SessionError that names the store and keeps the cause; `answer`
 * checks what the call resolved to (it throws a SessionError of its own for an answer the contract rules out). With
 * `storeTimeout`, a call that takes longer fails with `STORE_TIMEOUT`: the outcome is then unknown (the call
 * itself cannot be cancelled and may still complete), so the library never retries it.
 */
export function storeCall<T, R = T>(
  config: StoreCallConfig,
  code: SessionErrorCode,
  op: string,
  call: () => Promise<T>,
  answer?: (value: T) => R,
): Promise<R> {
  const fail = (cause: unknown): never => {
    throw storeFailure(config, code, op, cause);
  };
  const limit = config.storeTimeoutMs;
  // Without a timeout (the default, and every request's path): one reaction on the store's own promise.
  if (limit === undefined) {
    try {
      return Promise.resolve(call()).then(answer, fail) as Promise<R>;
    } catch (cause) {
      return Promise.reject(storeFailure(config, code, op, cause));
    }
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    const message = `${config.storeName} store: ${op} took longer than ${limit} ms; its outcome is unknown`;
    timer = setTimeout(() => reject(new SessionError('STORE_TIMEOUT', message)), limit);
  });
  return Promise.race([Promise.resolve().then(call), timeout])
    .then(answer, fail)
    .finally(() => clearTimeout(timer!)) as Promise<R>;
}

/**
 * What a store's failure becomes: its own verdicts (a limit, an impossible operation, a timeout, a value the
 * merge refused) as they are, anything else a `code` error naming the store, with the cause.
 */
export function storeFailure(config: StoreCallConfig, code: SessionErrorCode, op: string, cause: unknown) {
  if (cause instanceof SessionError && PASS_THROUGH.has(cause.code)) return cause;
  return new SessionError(code, `${config.storeName} store: ${op} failed`, { cause });
}

const PASS_THROUGH = new Set<SessionErrorCode>([
  'STORE_TIMEOUT',
  'STORE_LIMIT',
  'STORE_UNSUPPORTED',
  'TYPE_MISMATCH',
  'STORE_READ',
]);
