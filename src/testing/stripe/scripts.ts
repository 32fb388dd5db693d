import { defaultErrorMessage, defaultErrorType, stripeError, type ApiAnswer } from './stripeErrors.js';

/**
 * What a test scripts for the next matching requests: a failure answered
 * before Stripe does anything, a slow answer, or a dropped connection. Each
 * script matches a path (exact, or a RegExp) and a method, and is used up
 * after `count` matches (default 1), in the order scripts were added.
 */
export type RequestMatch = {
  /** Exact path without the query (`/v1/refunds`), or a RegExp tested against it; default: any path. */
  path?: string | RegExp;
  /** Default: any method. */
  method?: string;
  /** How many matching requests the script applies to (default 1). */
  count?: number;
  /**
   * How many matching requests go through untouched before the script applies
   * (default 0): `failNext({ path: '/v1/events', status: 500, skip: 1 })` fails
   * the second page of a list. A skipped request still meets the scripts added after it.
   */
  skip?: number;
};

export type FailureScript = RequestMatch & {
  status: number;
  /** Stripe's error `type`; default from the status (429/4xx `invalid_request_error`, 5xx `api_error`). */
  type?: string;
  /** Default `rate_limit` for 429, none otherwise. */
  code?: string;
  message?: string;
  /** Sends `Stripe-Should-Retry: true|false`, which the SDK obeys before its own rules. */
  shouldRetry?: boolean;
};

export type DelayScript = RequestMatch & {
  /** How long to hold the request, in ms. */
  ms?: number;
  /** Or: hold it until this settles (deterministic tests: no timers). */
  until?: Promise<unknown>;
  /**
   * `after_processing` (default): the request takes effect at once and only
   * the answer is late, so an SDK timeout leaves the refund created.
   * `before_processing`: nothing happens until the delay ends, and other
   * requests with the same idempotency key meanwhile get 409 `idempotency_key_in_use`.
   */
  stage?: 'after_processing' | 'before_processing';
};

export type DropScript = RequestMatch & {
  /**
   * `after_headers` (default): Stripe performs the request, sends the status
   * and headers, then the connection breaks mid-body. The SDK reports a
   * `StripeConnectionError` and does not retry.
   * `before_response`: the connection breaks before any byte of the answer
   * (ECONNRESET). Beware: stripe-node retries that once with the same
   * idempotency key even with `maxNetworkRetries: 0`, so the replayed answer
   * reaches the caller unless the retry is dropped too (`count: 2`).
   */
  when?: 'after_headers' | 'before_response';
};

type Scripted<T> = { script: T; remaining: number; skip: number };

export type ScriptedFailure = { answer: ApiAnswer; headers: Record<string, string> };

const matches = (match: RequestMatch, method: string, path: string) =>
  (match.method === undefined || match.method.toUpperCase() === method) &&
  (match.path === undefined || (typeof match.path === 'string' ? match.path === path : match.path.test(path)));

const queue = <T extends RequestMatch>() => {
  const scripts: Scripted<T>[] = [];
  return {
    add(script: T) {
      const count = script.count ?? 1;
      if (!Number.isInteger(count) || count < 1) throw new Error('fake Stripe: count must be a positive integer');
      const skip = script.skip ?? 0;
      if (!Number.isInteger(skip) || skip < 0) throw new Error('fake Stripe: skip must be a non-negative integer');
      scripts.push({ script, remaining: count, skip });
    },
    take(method: string, path: string): T | undefined {
      // The request meets the scripts in order: one still skipping lets it pass (and counts it), the first other one takes it.
      const index = scripts.findIndex((scripted) => {
        if (!matches(scripted.script, method, path)) return false;
        if (scripted.skip === 0) return true;
        scripted.skip -= 1;
        return false;
      });
      if (index < 0) return undefined;
      const found = scripts[index]!;
      found.remaining -= 1;
      if (found.remaining === 0) scripts.splice(index, 1);
      return found.script;
    },
    clear() {
      scripts.splice(0, scripts.length);
    },
  };
};

export const createScripts = () => {
  const failures = queue<FailureScript>();
  const delays = queue<DelayScript>();
  const drops = queue<DropScript>();
  return {
    failures,
    delays,
    drops,
    /** The scripted failure for this request, if any, as Stripe would word it. */
    takeFailure(method: string, path: string): ScriptedFailure | undefined {
      const script = failures.take(method, path);
      if (!script) return undefined;
      const code = script.code ?? (script.status === 429 ? 'rate_limit' : undefined);
      return {
        answer: stripeError(script.status, {
          type: script.type ?? defaultErrorType(script.status),
          message: script.message ?? defaultErrorMessage(script.status),
          ...(code ? { code } : {}),
        }),
        headers: script.shouldRetry === undefined ? {} : { 'Stripe-Should-Retry': String(script.shouldRetry) },
      };
    },
    clear() {
      failures.clear();
      delays.clear();
      drops.clear();
    },
  };
};
