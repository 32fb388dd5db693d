import { adyenError, type ApiAnswer } from './adyenErrors.js';

/**
 * Adyen's idempotency (docs.adyen.com/development-resources/api-idempotency):
 * keys are scoped to the company account (here: the fake), at most 64
 * characters, kept for at least 31 days; a request whose key was already
 * processed gets the first answer again, without a second effect.
 *
 * Adyen documents one refusal: a duplicate that arrives while the first is
 * still in progress answers 422 or 409 with error code 704 ("request already
 * processed or in progress") and the header `transient-error: true`. It does
 * not document what a key reused with a *different* request gets; the fake
 * refuses it the same way (422, 704) but without `transient-error`, so a
 * client that reuses a key for another request finds out, and a client that
 * retries the same request is never refused. Only answers of requests that
 * ran are kept (the 201, and 400/403/422 validation errors): not a 401, not a
 * scripted failure, not a 5xx.
 */

export const idempotencyRetentionMs = 31 * 24 * 60 * 60 * 1000;
export const maxIdempotencyKeyLength = 64;

type StoredAnswer = { endpoint: string; fingerprint: string; answer: ApiAnswer; storedAt: number };

export type IdempotencyVerdict =
  | { kind: 'first' }
  | { kind: 'replay'; answer: ApiAnswer }
  | { kind: 'refused'; answer: ApiAnswer };

/** A stable text for a parsed JSON body: keys sorted at every level. */
export const canonicalJson = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, entry]) => entry !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, entry]) => `${JSON.stringify(key)}:${canonicalJson(entry)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
};

export const createIdempotencyStore = (now: () => number) => {
  const stored = new Map<string, StoredAnswer>();

  return {
    check(key: string, endpoint: string, fingerprint: string): IdempotencyVerdict {
      const previous = stored.get(key);
      if (previous && now() - previous.storedAt > idempotencyRetentionMs) stored.delete(key);
      const current = stored.get(key);
      if (!current) return { kind: 'first' };
      if (current.endpoint !== endpoint || current.fingerprint !== fingerprint) {
        return {
          kind: 'refused',
          answer: adyenError(422, { errorCode: '704', message: 'request already processed or in progress', errorType: 'validation' }),
        };
      }
      return { kind: 'replay', answer: structuredClone(current.answer) };
    },
    store(key: string, endpoint: string, fingerprint: string, answer: ApiAnswer) {
      stored.set(key, { endpoint, fingerprint, answer: structuredClone(answer), storedAt: now() });
    },
    /** Forgets every key, as if more than the retention period had passed. */
    forget() {
      stored.clear();
    },
    get size() {
      return stored.size;
    },
  };
};

export type IdempotencyStore = ReturnType<typeof createIdempotencyStore>;
