import { adyenError, defaultScriptedError, type ApiAnswer } from './adyenErrors.js';

/**
 * Trouble a test scripts for the next refund requests, used up in the order
 * added: a failure answered before Adyen does anything, or an answer that
 * never arrives although the refund was made.
 */

export type FailureScript = {
  /** The HTTP status, e.g. 500/503/429 (transient), 422/403 (definitive). */
  status: number;
  /** Adyen's error code; a default per status otherwise (see `defaultScriptedError`). */
  errorCode?: string;
  message?: string;
  errorType?: string;
  /** Sends `transient-error: true`, as Adyen does on errors worth retrying with the same key (704, 703). */
  transient?: boolean;
  /** Sends this text as the body instead of Adyen's JSON (a proxy's HTML page, an empty body). */
  rawBody?: string;
  /** How many refund requests it applies to (default 1). */
  count?: number;
};

/**
 * - `reset` (default): the refund is made and the key kept, then the
 *   connection is closed without a byte of answer. The library rejects with
 *   `ApiException` `socket hang up`.
 * - `hang`: the refund is made, then nothing is answered until the client
 *   gives up (`connectionTimeoutMillis` on the library's config; without it
 *   the request hangs until `close()`). Also `ApiException` `socket hang up`.
 * - `partial`: the 201's status and half its body are sent, then the
 *   connection breaks. The library rejects with a plain `Error` `aborted`.
 */
export type TimeoutMode = 'reset' | 'hang' | 'partial';
export type TimeoutScript = { mode?: TimeoutMode; count?: number };

type Scripted<T> = { script: T; remaining: number };

const queue = <T extends { count?: number }>() => {
  const scripts: Scripted<T>[] = [];
  return {
    add(script: T) {
      const count = script.count ?? 1;
      if (!Number.isInteger(count) || count < 1) throw new Error('fake Adyen: count must be a positive integer');
      scripts.push({ script, remaining: count });
    },
    take(): T | undefined {
      const first = scripts[0];
      if (!first) return undefined;
      first.remaining -= 1;
      if (first.remaining === 0) scripts.shift();
      return first.script;
    },
    clear() {
      scripts.splice(0, scripts.length);
    },
    get size() {
      return scripts.reduce((sum, scripted) => sum + scripted.remaining, 0);
    },
  };
};

export const createScripts = (newPspReference: () => string) => {
  const failures = queue<FailureScript>();
  const timeouts = queue<TimeoutScript>();
  return {
    failures,
    timeouts,
    /** The scripted failure for this request, if any, worded as Adyen would. */
    takeFailure(): ApiAnswer | undefined {
      const script = failures.take();
      if (!script) return undefined;
      const headers = script.transient ? { 'Transient-Error': 'true' } : undefined;
      if (script.rawBody !== undefined) return { status: script.status, body: script.rawBody, ...(headers ? { headers } : {}) };
      const defaults = defaultScriptedError(script.status);
      return adyenError(
        script.status,
        {
          errorCode: script.errorCode ?? defaults.errorCode,
          message: script.message ?? defaults.message,
          errorType: script.errorType ?? defaults.errorType,
          ...(script.status === 401 ? {} : { pspReference: newPspReference() }),
        },
        headers,
      );
    },
    clear() {
      failures.clear();
      timeouts.clear();
    },
  };
};
