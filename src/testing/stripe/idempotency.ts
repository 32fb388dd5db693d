import { stripeError, type ApiAnswer } from './stripeErrors.js';

/**
 * Stripe's idempotency, per account: the first answer given under a key (an
 * error included) is replayed to every later request with the same key and
 * parameters; other parameters or another endpoint under the same key are
 * refused; a key still being processed answers 409. Keys are forgotten only
 * when the test says so (`prune`), as Stripe forgets them after 24 hours.
 */
type StoredAnswer = { endpoint: string; fingerprint: string; answer: ApiAnswer };

export type IdempotencyVerdict =
  | { kind: 'first' }
  | { kind: 'replay'; answer: ApiAnswer }
  | { kind: 'refused'; answer: ApiAnswer };

export const createIdempotencyStore = () => {
  const stored = new Map<string, StoredAnswer>();
  const inFlight = new Set<string>();
  const scoped = (account: string | null, key: string) => JSON.stringify([account, key]);

  return {
    check(account: string | null, key: string, endpoint: string, fingerprint: string): IdempotencyVerdict {
      const scope = scoped(account, key);
      const previous = stored.get(scope);
      if (previous) {
        if (previous.endpoint !== endpoint) {
          return {
            kind: 'refused',
            answer: stripeError(400, {
              type: 'idempotency_error',
              message: `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${previous.endpoint}' vs '${endpoint}'). Try using a key other than '${key}' if you meant to execute a different request.`,
            }),
          };
        }
        if (previous.fingerprint !== fingerprint) {
          return {
            kind: 'refused',
            answer: stripeError(400, {
              type: 'idempotency_error',
              message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
            }),
          };
        }
        return { kind: 'replay', answer: structuredClone(previous.answer) };
      }
      if (inFlight.has(scope)) {
        return {
          kind: 'refused',
          answer: stripeError(409, {
            type: 'idempotency_error',
            code: 'idempotency_key_in_use',
            message: `There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): ${key}. Please try again later.`,
          }),
        };
      }
      return { kind: 'first' };
    },
    /** Marks a key as being processed (while a scripted delay holds the request before it runs). */
    begin(account: string | null, key: string) {
      inFlight.add(scoped(account, key));
    },
    end(account: string | null, key: string) {
      inFlight.delete(scoped(account, key));
    },
    store(account: string | null, key: string, endpoint: string, fingerprint: string, answer: ApiAnswer) {
      stored.set(scoped(account, key), { endpoint, fingerprint, answer: structuredClone(answer) });
    },
    prune() {
      stored.clear();
    },
    get size() {
      return stored.size;
    },
  };
};

export type IdempotencyStore = ReturnType<typeof createIdempotencyStore>;
