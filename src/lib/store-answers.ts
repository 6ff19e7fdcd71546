// What each store call may answer. A store that answers something else (a custom store's `update` or `destroy`
// without its `return`, a list that is not one) has done who knows what: its answer is refused with a
// SessionError of the call's code before anything acts on it, never a TypeError later or a cookie sent on its word.
import { SessionError, type SessionErrorCode } from '../errors.js';
import { ID_PATTERN, sameSession } from './ids.js';
import { describeValue } from './option-names.js';
import { isRecord } from './records.js';
import type { SessionRecord, UserSession } from './store-contract.js';

/** The checks of one store's answers; `storeName` names the store in the error. */
export function storeAnswers(storeName: string) {
  const refuse = (code: SessionErrorCode, op: string, answer: unknown, expected: string, unknown: boolean): never => {
    const outcome = unknown ? '; its outcome is unknown' : '';
    throw new SessionError(
      code,
      `${storeName} store: ${op} answered ${describeValue(answer)}, not ${expected}${outcome}`,
    );
  };
  const record = (op: string) => (answer: SessionRecord | null) =>
    answer === null || isRecord(answer) ? answer : refuse('STORE_WRITE', op, answer, 'the stored record or null', true);
  return {
    created: (answer: boolean) =>
      typeof answer === 'boolean' ? answer : refuse('STORE_WRITE', 'create', answer, 'a boolean', true),
    updated: record('update'),
    moved: record('regenerate'),
    /**
     * The ID a destroy of `id` ended the session under, or null when it ended none. Only an ID of the same
     * session (its lineage) is taken: the `destroyed` event names it, and an app cleans up that ID's data.
     */
    ended: (id: string) => (answer: boolean | string) =>
      answer === true
        ? id
        : answer === false
          ? null
          : typeof answer === 'string' && ID_PATTERN.test(answer) && sameSession(answer, id)
            ? answer
            : refuse('STORE_DELETE', 'destroy', answer, 'a boolean or an ID the session had', true),
    endedForUser: (answer: string[]) =>
      Array.isArray(answer) && answer.every((id) => typeof id === 'string')
        ? answer
        : refuse('STORE_DELETE', 'destroyByUser', answer, 'a list of session IDs', true),
    listed: (answer: UserSession[]) =>
      Array.isArray(answer) && answer.every((s) => s !== null && typeof s === 'object' && typeof s.id === 'string')
        ? answer
        : refuse('STORE_READ', 'listByUser', answer, 'a list of { id, record }', false),
    counted: (answer: number) =>
      Number.isSafeInteger(answer) && answer >= 0 ? answer : refuse('STORE_READ', 'count', answer, 'a count', false),
  };
}
