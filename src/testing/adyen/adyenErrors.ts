import type { AdyenErrorJson } from './adyenJson.js';

/** An HTTP answer the fake gives: a status, a body (JSON, or a raw string sent as is) and extra headers. */
export type ApiAnswer = { status: number; body: unknown; headers?: Record<string, string> };

export const adyenError = (
  status: number,
  error: Omit<AdyenErrorJson, 'status'>,
  headers?: Record<string, string>,
): ApiAnswer & { body: AdyenErrorJson } => ({
  status,
  body: { status, ...error },
  ...(headers ? { headers } : {}),
});

/** Adyen's generic 401 (authentication sits in front of routing: any path answers it). */
export const unauthorized = () =>
  adyenError(401, { errorCode: '000', message: 'HTTP Status Response - Unauthorized', errorType: 'security' });

/**
 * What a scripted failure says when the script names nothing. The 401, 403
 * and 500 bodies are Adyen's own generic examples (CheckoutService-v72); the
 * others are the fake's wording, marked as such.
 */
export const defaultScriptedError = (status: number): Omit<AdyenErrorJson, 'status' | 'pspReference'> => {
  switch (status) {
    case 400:
      return { errorCode: '702', message: 'Unexpected input (scripted by the fake Adyen server)', errorType: 'validation' };
    case 401:
      return { errorCode: '000', message: 'HTTP Status Response - Unauthorized', errorType: 'security' };
    case 403:
      return { errorCode: '010', message: 'Not allowed', errorType: 'security' };
    case 422:
      return { errorCode: '000', message: 'Unprocessable entity (scripted by the fake Adyen server)', errorType: 'validation' };
    case 429:
      return { errorCode: '000', message: 'Too many requests (scripted by the fake Adyen server)', errorType: 'security' };
    case 500:
      return { errorCode: '905', message: 'Payment details are not supported', errorType: 'configuration' };
    default:
      return status >= 500
        ? { errorCode: '000', message: `Service error ${status} (scripted by the fake Adyen server)`, errorType: 'internal' }
        : { errorCode: '000', message: `Request failed with status ${status} (scripted by the fake Adyen server)`, errorType: 'validation' };
  }
};
