import type { StripeErrorJson } from './stripeJson.js';

/** An HTTP answer the fake gives: a status and a JSON body (an object or a Stripe error). */
export type ApiAnswer = { status: number; body: unknown };

export const stripeError = (
  status: number,
  error: StripeErrorJson['error'],
): ApiAnswer & { body: StripeErrorJson } => ({
  status,
  body: { error: { ...error, ...(error.code ? { doc_url: `https://stripe.com/docs/error-codes/${error.code.replaceAll('_', '-')}` } : {}) } },
});

export const resourceMissing = (kind: 'payment_intent' | 'charge' | 'refund' | 'event', id: string, param: string) =>
  stripeError(404, { type: 'invalid_request_error', code: 'resource_missing', message: `No such ${kind}: '${id}'`, param });

export const invalidRequest = (code: string | undefined, message: string, param?: string) =>
  stripeError(400, { type: 'invalid_request_error', message, ...(code ? { code } : {}), ...(param ? { param } : {}) });

export const unrecognizedUrl = (method: string, path: string) =>
  stripeError(404, {
    type: 'invalid_request_error',
    message: `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
  });

/** The error type Stripe uses for a scripted status when the script names none. */
export const defaultErrorType = (status: number): string => {
  if (status >= 500) return 'api_error';
  if (status === 402) return 'card_error';
  if (status === 401) return 'authentication_error';
  return 'invalid_request_error';
};

export const defaultErrorMessage = (status: number): string => {
  if (status === 429) return 'Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.';
  if (status >= 500) return 'An unknown error occurred (scripted by the fake Stripe server).';
  return `Request failed with status ${status} (scripted by the fake Stripe server).`;
};
