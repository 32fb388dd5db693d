import { err, ok, ResultAsync, safeTry, type Result } from 'neverthrow';
import { UnexpectedError, type CommandError } from '../../errors.js';
import { systemClock } from '../../ports/notifier.js';
import { recordWebhookOutcome } from '../../observability/webhooks.js';
import {
  reject,
  stripeEventApplier,
  WebhookRejectedError,
  type StripeEventHandlingOptions,
  type WebhookOutcome,
} from './stripeEventHandler.js';

export {
  WebhookRejectedError,
  type StripeEventHandlingOptions,
  type WebhookOutcome,
  type WebhookRejection,
} from './stripeEventHandler.js';

export type StripeWebhooksOptions = StripeEventHandlingOptions & {
  /** The endpoint's signing secret, `whsec_…`. */
  webhookSecret: string;
  /** How far a signature's timestamp may be from now, in the past or the future. Default 300 s, as Stripe's SDK. */
  toleranceSeconds?: number;
};

export type WebhookDelivery = {
  /** The request body exactly as received: a string or a Buffer, never a parsed object. */
  rawBody: unknown;
  /** The `Stripe-Signature` header. */
  signature: unknown;
};

type Answer = Result<WebhookOutcome, CommandError | WebhookRejectedError>;

/**
 * Verifies Stripe's webhooks on the raw body, then validates and applies them
 * exactly as the reconciler applies events it lists (stripeEventHandler.ts):
 * refund events observe (or adopt) a refund, `charge.refunded` does so for each
 * of the charge's refunds, `payment_intent.succeeded` confirms the charge. Every
 * delivery is safe to repeat: an event already applied, by a webhook or by a
 * reconciliation, changes nothing.
 */
export const stripeWebhooks = (options: StripeWebhooksOptions) => {
  const { stripe, webhookSecret } = options;
  const clock = options.clock ?? systemClock;
  const tolerance = options.toleranceSeconds ?? 300;
  if (!(tolerance > 0)) {
    // Stripe's SDK reads 0 as "no check"; here no check is never an option.
    throw new RangeError(`toleranceSeconds must be positive, got ${String(options.toleranceSeconds)}`);
  }
  const applier = stripeEventApplier(options);
  const signature = stripe.webhooks.signature;
  if (signature === null) throw new TypeError('This stripe client cannot verify webhook signatures');

  /** The signature over the raw body, then the body as JSON: nothing is read before it is proven Stripe's. */
  const verify = ({ rawBody, signature: header }: WebhookDelivery): Result<unknown, WebhookRejectedError> => {
    if (typeof rawBody !== 'string' && !(rawBody instanceof Uint8Array)) {
      return reject(
        'raw_body_required',
        'The webhook body must be the raw request body (a string or Buffer); a parsed body can never be verified',
      );
    }
    if (typeof header !== 'string' || header.trim() === '') {
      return reject('signature_missing', 'The Stripe-Signature header is missing');
    }
    const timestamp = Number(/(?:^|,)\s*t=(\d+)/.exec(header)?.[1]);
    if (!Number.isFinite(timestamp)) return reject('signature_invalid', 'The Stripe-Signature header has no timestamp');
    const now = Math.floor(clock.now().getTime() / 1000);
    // Stripe's SDK only refuses old timestamps; one from the future is as suspect and refused too.
    if (Math.abs(now - timestamp) > tolerance) {
      return reject('timestamp_outside_tolerance', `The signature's timestamp is ${now - timestamp} s from now (tolerance ${tolerance} s)`);
    }
    const body = typeof rawBody === 'string' ? rawBody : Buffer.from(rawBody).toString('utf8');
    // The SDK refuses to verify an empty body at all; it is no event whoever sent it.
    if (body === '') return reject('payload_not_json', 'The body is empty');
    try {
      // The SDK takes the receiving instant in milliseconds.
      signature.verifyHeader(body, header, webhookSecret, tolerance, undefined, clock.now().getTime());
    } catch (error) {
      return reject('signature_invalid', error instanceof Error ? error.message : 'The signature does not match', { cause: error });
    }
    try {
      return ok(JSON.parse(body) as unknown);
    } catch (error) {
      return reject('payload_not_json', 'The signed body is not JSON', { cause: error });
    }
  };

  /** One line and one count per delivery (when the host passed a logger or telemetry): ids and codes, never the body. */
  const observed = async (answer: Promise<Answer>): Promise<Answer> => {
    if (options.logger === undefined && options.telemetry === undefined) return answer;
    const started = performance.now();
    const settled = await answer;
    const durationMs = performance.now() - started;
    const sinks = { ...(options.logger === undefined ? {} : { logger: options.logger }), ...(options.telemetry === undefined ? {} : { telemetry: options.telemetry }) };
    if (settled.isOk()) {
      const { eventId, eventType, outcome, reason, creditNoteIds } = settled.value;
      recordWebhookOutcome(sinks, { processor: 'stripe', outcome, reason, correlationId: eventId, eventId, eventType, creditNoteIds, durationMs });
    } else {
      const error = settled.error;
      const rejected = error instanceof WebhookRejectedError;
      recordWebhookOutcome(sinks, {
        processor: 'stripe',
        outcome: rejected ? 'rejected' : 'failed',
        reason: rejected ? error.reason : null,
        correlationId: 'unknown',
        errorCode: error.code,
        error,
        durationMs,
      });
    }
    return settled;
  };

  /** Verify, then the same validation and application as every other channel. */
  const handle = async (delivery: WebhookDelivery): Promise<Answer> =>
    safeTry(async function* () {
      const body = yield* verify(delivery);
      return applier.apply(body, 'webhook');
    });

  return {
    /**
     * Verify and apply one delivery. `Ok` (acknowledge with 200) for anything
     * applied, already known or not ours; `Err(WebhookRejectedError)` (answer
     * 400) when it must not be trusted or is not an event Stripe sends;
     * `StoreError` (the store is down), `GatewayError` (Stripe could not be
     * asked about a charge's refunds) and `UnexpectedError` (a bug) ask Stripe
     * to deliver again later with a 500.
     */
    handleWebhook: (delivery: WebhookDelivery): ResultAsync<WebhookOutcome, CommandError | WebhookRejectedError> =>
      new ResultAsync(
        observed(handle(delivery).catch((cause: unknown) => err<WebhookOutcome, UnexpectedError>(new UnexpectedError(cause)))),
      ),
  };
};

export type StripeWebhooks = ReturnType<typeof stripeWebhooks>;
