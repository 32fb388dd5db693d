import { err, ok, safeTry, type Result } from 'neverthrow';
import Stripe from 'stripe';
import { GatewayError } from '../../errors.js';
import type { PaymentRef, ProcessorPendingReason, ProcessorRefundStatus } from '../../events/primitives.js';
import type {
  CreateRefundRequest,
  ProcessorPayment,
  ProcessorRefund,
  RefundGateway,
} from '../../ports/refundGateway.js';
import { adviseOnFailureReason, adviseOnRefusal, classificationOf } from './failureReasons.js';

/** Written in the metadata of every refund the library creates; the webhook handler recognises ours by it. */
export const defaultRefundOrigin = 'refund-lifecycle';

export type StripeGatewayOptions = {
  /** A configured client: `new Stripe(secretKey, { maxNetworkRetries: 2 })`. */
  stripe: Stripe;
  /** Written on every refund we create, so ours can never pass for a dashboard refund. Default `refund-lifecycle`. */
  origin?: string;
};

/**
 * Debit payments (SEPA, ACH) Stripe can no longer refund after about 180 days
 * (docs/glossary.md#refund-window).
 */
export const refundWindowDays: Readonly<Record<string, number>> = { sepa_debit: 180, us_bank_account: 180 };

const statusFromStripe: Readonly<Record<string, ProcessorRefundStatus>> = {
  pending: 'pending',
  requires_action: 'action_required',
  succeeded: 'succeeded',
  failed: 'failed',
  canceled: 'canceled',
};

const pendingReasonFromStripe: Readonly<Record<string, ProcessorPendingReason>> = {
  charge_pending: 'charge_pending',
  insufficient_funds: 'insufficient_funds',
  processing: 'processing',
};

export const idOf = (value: string | { id: string } | null | undefined): string | null =>
  value == null ? null : typeof value === 'string' ? value : value.id;

/**
 * The fields of a Stripe refund the library reads: the SDK's `Stripe.Refund`
 * and a webhook's validated payload both fit.
 */
export type StripeRefundFields = {
  id: string;
  amount: number;
  currency: string;
  status?: string | null;
  metadata?: Record<string, string> | null;
  charge?: string | { id: string } | null;
  payment_intent?: string | { id: string } | null;
  failure_reason?: string | null;
  pending_reason?: string | null;
};

/** The ids a Stripe refund's payment goes by: its payment intent and its charge. */
export const paymentIdsOf = (refund: StripeRefundFields): string[] =>
  [idOf(refund.payment_intent), idOf(refund.charge)].filter((id): id is string => id !== null);

/** A value the metadata holds itself: inherited names (`constructor`, `__proto__`…) are never values. */
export const metadataValue = (metadata: Record<string, string> | null | undefined, key: string): string | null =>
  metadata != null && Object.hasOwn(metadata, key) && typeof metadata[key] === 'string' ? metadata[key] : null;

/**
 * A Stripe refund in the library's processor-neutral words. A charge made
 * through a payment intent goes by both ids; `asPaymentId` names it the way
 * the credit note does, so a credit note issued on `ch_…` recognises refunds
 * Stripe reports under `pi_…`.
 */
export const toProcessorRefund = (refund: StripeRefundFields, asPaymentId?: string | null): ProcessorRefund => {
  const status = (refund.status && Object.hasOwn(statusFromStripe, refund.status) && statusFromStripe[refund.status]) || 'pending';
  const failed = status === 'failed' || status === 'canceled';
  const reason = refund.failure_reason ?? (status === 'canceled' ? 'merchant_request' : null);
  const advice = adviseOnFailureReason(reason);
  const attempt = Number(metadataValue(refund.metadata, 'attempt') ?? Number.NaN);
  const pendingReason =
    status === 'pending' && refund.pending_reason && Object.hasOwn(pendingReasonFromStripe, refund.pending_reason)
      ? (pendingReasonFromStripe[refund.pending_reason] ?? null)
      : null;
  const paymentIds = paymentIdsOf(refund);
  const paymentId = asPaymentId && paymentIds.includes(asPaymentId) ? asPaymentId : (paymentIds[0] ?? '');
  const paymentAliases = paymentIds.filter((id) => id !== paymentId);
  return {
    processorRefundId: refund.id,
    paymentId,
    ...(paymentAliases.length === 0 ? {} : { paymentAliases }),
    amount: refund.amount,
    currency: refund.currency,
    status,
    ...(pendingReason === null ? {} : { pendingReason }),
    failure: failed ? { reason: reason ?? 'unknown', classification: classificationOf(advice), message: advice.banner } : null,
    metadata: {
      creditNoteId: metadataValue(refund.metadata, 'creditNoteId') || null,
      attempt: Number.isInteger(attempt) && attempt > 0 ? attempt : null,
    },
  };
};

/**
 * What a Stripe error means for the refund: rate limits, 5xx, network errors,
 * timeouts, lock timeouts and rejected keys or permissions are transient (the
 * request may or may not have run, or the operator must fix the setup: it is
 * asked again under the same key); everything else is definitive, with
 * Stripe's own code and the advice a host shows.
 */
export const toGatewayError = (error: unknown): GatewayError => {
  if (error instanceof Stripe.errors.StripeError) {
    // `type` is the SDK's class name; Stripe's own word is `code`, else the raw error type it answered with.
    const code =
      error.code ??
      error.rawType ??
      (error instanceof Stripe.errors.StripeConnectionError ? 'api_connection_error' : undefined);
    const transient =
      // A revoked key or Connect permission is the operator's to fix; failing the refund would send the merchant
      // to refund by hand what Stripe will refund once the key works again.
      error instanceof Stripe.errors.StripeAuthenticationError ||
      error instanceof Stripe.errors.StripePermissionError ||
      error instanceof Stripe.errors.StripeRateLimitError ||
      error instanceof Stripe.errors.StripeConnectionError ||
      error instanceof Stripe.errors.StripeAPIError ||
      (error.statusCode !== undefined && error.statusCode >= 500) ||
      error.code === 'lock_timeout' ||
      // Another call under the same key is still running (a worker whose lease ran out mid-call): its answer, not a
      // refusal, settles the attempt. Recorded as a failure, a retry under a new key would refund twice.
      error.code === 'idempotency_key_in_use' ||
      error.statusCode === 409;
    if (transient) return new GatewayError('transient', code || 'api_error', error.message, { cause: error });
    const advice = adviseOnRefusal(error.code);
    return new GatewayError('definitive', code || 'invalid_request_error', error.message, {
      cause: error,
      classification: classificationOf(advice),
    });
  }
  return new GatewayError('transient', 'unexpected_error', error instanceof Error ? error.message : String(error), {
    cause: error,
  });
};

const call = async <T>(request: () => Promise<T>): Promise<Result<T, GatewayError>> => {
  try {
    return ok(await request());
  } catch (error) {
    return err(toGatewayError(error));
  }
};

/** Connect direct charges live on the merchant's account: every call says so. */
const onAccount = (payment: PaymentRef): Stripe.RequestOptions =>
  payment.account === null ? {} : { stripeAccount: payment.account };

/** Payment intents are `pi_…`; anything else is taken for a charge (`ch_…`, `py_…`). */
const paymentTarget = (paymentId: string): { payment_intent: string } | { charge: string } =>
  paymentId.startsWith('pi_') ? { payment_intent: paymentId } : { charge: paymentId };

/** The `RefundGateway` port over the official SDK. */
export const stripeGateway = ({ stripe, origin = defaultRefundOrigin }: StripeGatewayOptions): RefundGateway => {
  const findRefunds = (payment: PaymentRef) =>
    call(async () => {
      const refunds: ProcessorRefund[] = [];
      const list = stripe.refunds.list({ ...paymentTarget(payment.paymentId), limit: 100 }, onAccount(payment));
      for await (const refund of list) refunds.push(toProcessorRefund(refund, payment.paymentId));
      return refunds;
    });

  return {
    processor: 'stripe',

    createRefund: async (request: CreateRefundRequest) =>
      safeTry(async function* () {
        // Stripe forgets idempotency keys after 24 hours: an attempt re-sent later (a worker down for a day, a
        // person retrying an old in-doubt attempt) would refund twice. Our metadata finds the attempt's refund first.
        const made = (yield* await findRefunds(request.payment)).find(
          (refund) =>
            refund.metadata.creditNoteId === request.metadata.creditNoteId && refund.metadata.attempt === request.metadata.attempt,
        );
        if (made) return ok(made);
        return call(async () =>
          toProcessorRefund(
            await stripe.refunds.create(
              {
                ...paymentTarget(request.payment.paymentId),
                amount: request.amount,
                metadata: {
                  creditNoteId: request.metadata.creditNoteId,
                  attempt: String(request.metadata.attempt),
                  origin,
                },
              },
              { ...onAccount(request.payment), idempotencyKey: request.idempotencyKey },
            ),
            request.payment.paymentId,
          ),
        );
      }),

    retrieveRefund: ({ payment, processorRefundId }) =>
      call(async () =>
        toProcessorRefund(await stripe.refunds.retrieve(processorRefundId, {}, onAccount(payment)), payment.paymentId),
      ),

    findRefunds,

    describePayment: (payment: PaymentRef) =>
      call(async (): Promise<ProcessorPayment> => {
        const intent = payment.paymentId.startsWith('pi_')
          ? await stripe.paymentIntents.retrieve(payment.paymentId, { expand: ['latest_charge'] }, onAccount(payment))
          : null;
        const charge = intent ? intent.latest_charge : await stripe.charges.retrieve(payment.paymentId, {}, onAccount(payment));
        // An intent is confirmed once it succeeded; a charge without an intent once it succeeded (Stripe's own word,
        // the same `payment_intent.succeeded` tells by webhook).
        // A charge id alone is confirmed once captured: `succeeded` also describes an authorisation not captured yet.
        const chargeConfirmed =
          intent !== null ? intent.status === 'succeeded' : typeof charge === 'object' && charge !== null && charge.status === 'succeeded' && charge.captured;
        if (charge === null || typeof charge === 'string') {
          // Not charged yet: what the intent asks for is the most it can ever refund.
          return { paymentId: payment.paymentId, amount: intent?.amount ?? null, currency: intent?.currency ?? null, method: null, refundableUntil: null, chargeConfirmed };
        }
        const method = charge.payment_method_details?.type ?? null;
        const windowDays = method === null ? undefined : refundWindowDays[method];
        return {
          paymentId: payment.paymentId,
          amount: charge.amount_captured || charge.amount,
          currency: charge.currency,
          method,
          refundableUntil:
            windowDays === undefined ? null : new Date((charge.created + windowDays * 86_400) * 1000).toISOString(),
          chargeConfirmed,
        };
      }),
  };
};
