import { err, ok, ResultAsync, type Result } from 'neverthrow';
import Stripe from 'stripe';
import { RefundLifecycleError, StoreError, type CommandError } from '../../errors.js';
import type { RefundLifecycle } from '../../lifecycle/createRefundLifecycle.js';
import { systemClock, type Clock } from '../../ports/notifier.js';
import { defaultRefundOrigin, idOf, paymentIdsOf, toProcessorRefund } from './stripeGateway.js';
import type { CreditNoteView } from '../../lifecycle/creditNoteView.js';

export type WebhookRejection =
  | 'raw_body_required'
  | 'signature_missing'
  | 'signature_invalid'
  | 'timestamp_outside_tolerance'
  | 'payload_not_json'
  | 'livemode_mismatch'
  | 'account_mismatch';

/**
 * A webhook the library refuses to act on; nothing was written. Answer it
 * with a 400: a forged, replayed or misrouted delivery must not be retried
 * into success.
 */
export class WebhookRejectedError extends RefundLifecycleError {
  readonly code = 'webhook_rejected' as const;
  constructor(
    /** Stable: which check failed. */
    readonly reason: WebhookRejection,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export type WebhookOutcome = {
  eventId: string;
  eventType: string;
  /** `applied`: something new was recorded; `unchanged`: already known (a redelivery, a stale status); `ignored`: not ours. */
  outcome: 'applied' | 'unchanged' | 'ignored';
  /** Why an event was ignored, e.g. `unhandled_event_type`, `unknown_payment`, `unknown_credit_note`. */
  reason: string | null;
  creditNoteIds: string[];
};

export type StripeWebhooksOptions = {
  lifecycle: RefundLifecycle;
  stripe: Stripe;
  /** The endpoint's signing secret, `whsec_…`. */
  webhookSecret: string;
  /** Events of the other mode are refused. Default false (test mode). */
  livemode?: boolean;
  /** How far a signature's timestamp may be from now, in the past or the future. Default 300 s, as Stripe's SDK. */
  toleranceSeconds?: number;
  clock?: Clock;
  /** Follow refunds made in the Stripe dashboard as credit notes of processor origin (seed 003). Default true. */
  adoptExternalRefunds?: boolean;
  /** The `origin` the gateway writes in our refunds' metadata; must match `stripeGateway`'s (default `refund-lifecycle`). */
  origin?: string;
};

export type WebhookDelivery = {
  /** The request body exactly as received: a string or a Buffer, never a parsed object. */
  rawBody: unknown;
  /** The `Stripe-Signature` header. */
  signature: unknown;
};

const refundEvents = new Set(['refund.created', 'refund.updated', 'refund.failed', 'charge.refund.updated']);

const reject = (reason: WebhookRejection, message: string, cause?: unknown) =>
  err(new WebhookRejectedError(reason, message, cause === undefined ? undefined : { cause }));

/**
 * Verifies Stripe's webhooks on the raw body and turns them into the
 * lifecycle's processor-neutral observations: refund events observe (or adopt)
 * a refund, `payment_intent.succeeded` confirms the charge. Every delivery is
 * safe to repeat: a redelivered event finds everything already known.
 */
export const stripeWebhooks = (options: StripeWebhooksOptions) => {
  const { lifecycle, stripe, webhookSecret } = options;
  const clock = options.clock ?? systemClock;
  const tolerance = options.toleranceSeconds ?? 300;
  if (!(tolerance > 0)) {
    // Stripe's SDK reads 0 as "no check"; here no check is never an option.
    throw new RangeError(`toleranceSeconds must be positive, got ${String(options.toleranceSeconds)}`);
  }
  const livemode = options.livemode ?? false;
  const adopt = options.adoptExternalRefunds ?? true;
  const origin = options.origin ?? defaultRefundOrigin;

  const verify = ({ rawBody, signature }: WebhookDelivery): Result<Stripe.Event, WebhookRejectedError> => {
    if (typeof rawBody !== 'string' && !(rawBody instanceof Uint8Array)) {
      return reject(
        'raw_body_required',
        'The webhook body must be the raw request body (a string or Buffer); a parsed body can never be verified',
      );
    }
    if (typeof signature !== 'string' || signature.trim() === '') {
      return reject('signature_missing', 'The Stripe-Signature header is missing');
    }
    const timestamp = Number(/(?:^|,)\s*t=(\d+)/.exec(signature)?.[1]);
    if (!Number.isFinite(timestamp)) return reject('signature_invalid', 'The Stripe-Signature header has no timestamp');
    const now = Math.floor(clock.now().getTime() / 1000);
    // Stripe's SDK only refuses old timestamps; one from the future is as suspect and refused too.
    if (Math.abs(now - timestamp) > tolerance) {
      return reject('timestamp_outside_tolerance', `The signature's timestamp is ${now - timestamp} s from now (tolerance ${tolerance} s)`);
    }
    try {
      const body = typeof rawBody === 'string' ? rawBody : Buffer.from(rawBody);
      // The SDK takes the receiving instant in milliseconds.
      return ok(stripe.webhooks.constructEvent(body, signature, webhookSecret, tolerance, undefined, clock.now().getTime()));
    } catch (error) {
      if (error instanceof SyntaxError) return reject('payload_not_json', 'The signed body is not JSON', error);
      return reject('signature_invalid', error instanceof Error ? error.message : 'The signature does not match', error);
    }
  };

  const outcomeOf = (event: Stripe.Event, changed: boolean, creditNoteIds: string[]): WebhookOutcome => ({
    eventId: event.id,
    eventType: event.type,
    outcome: changed ? 'applied' : 'unchanged',
    reason: null,
    creditNoteIds,
  });
  const ignored = (event: Stripe.Event, reason: string): WebhookOutcome => ({
    eventId: event.id,
    eventType: event.type,
    outcome: 'ignored',
    reason,
    creditNoteIds: [],
  });

  /** The credit notes refunding a payment, and whether the event comes from the account they were issued on. */
  const creditNotesOfPayment = async (
    event: Stripe.Event,
    paymentId: string,
  ): Promise<Result<CreditNoteView[], CommandError | WebhookRejectedError>> => {
    const account = event.account ?? null;
    const creditNotes = await lifecycle.listCreditNotes({ paymentId, limit: 500 });
    if (creditNotes.isErr()) return err(creditNotes.error);
    const foreign = creditNotes.value.find((view) => (view.payment?.account ?? null) !== account);
    return foreign
      ? reject('account_mismatch', `Event ${event.id} comes from account ${account ?? 'platform'}, not the account of ${foreign.creditNoteId}`)
      : ok(creditNotes.value);
  };

  const handleOurRefund = async (
    event: Stripe.Event,
    refund: Stripe.Refund,
    creditNoteId: string,
  ): Promise<Result<WebhookOutcome, CommandError | WebhookRejectedError>> => {
    const known = await lifecycle.getCreditNote(creditNoteId);
    if (known.isErr()) {
      return known.error.code === 'credit_note_not_found' ? ok(ignored(event, 'unknown_credit_note')) : err(known.error);
    }
    const account = event.account ?? null;
    const expectedAccount = known.value.payment?.account ?? null;
    if (expectedAccount !== account) {
      return reject('account_mismatch', `Event ${event.id} comes from account ${account ?? 'platform'}, credit note ${creditNoteId} belongs to ${expectedAccount ?? 'platform'}`);
    }
    const observed = toProcessorRefund(refund, known.value.payment?.paymentId);
    const observation = await lifecycle.observeRefund({ refund: observed, source: 'webhook', causationId: event.id });
    return observation.map(({ changed }) => outcomeOf(event, changed, [creditNoteId]));
  };

  const handleExternalRefund = async (
    event: Stripe.Event,
    refund: Stripe.Refund,
  ): Promise<Result<WebhookOutcome, CommandError | WebhookRejectedError>> => {
    if (!adopt) return ok(ignored(event, 'external_refund'));
    const paymentIds = paymentIdsOf(refund);
    if (paymentIds.length === 0) return ok(ignored(event, 'no_payment'));
    // The payment may be known by its intent or by its charge: follow it under the id its credit notes use.
    for (const paymentId of paymentIds) {
      const creditNotes = await creditNotesOfPayment(event, paymentId);
      if (creditNotes.isErr()) return err(creditNotes.error);
      if (creditNotes.value.length === 0) continue;
      const adoption = await lifecycle.adoptExternalRefund({
        // Whatever another system wrote in its metadata names none of our credit notes.
        refund: { ...toProcessorRefund(refund, paymentId), metadata: { creditNoteId: null, attempt: null } },
        account: event.account ?? null,
        source: 'webhook',
        causationId: event.id,
      });
      if (adoption.isErr()) return err(adoption.error);
      const { creditNote, changed } = adoption.value;
      return ok(creditNote === null ? ignored(event, 'unknown_payment') : outcomeOf(event, changed, [creditNote.creditNoteId]));
    }
    return ok(ignored(event, 'unknown_payment'));
  };

  const handleRefund = async (
    event: Stripe.Event,
    refund: Stripe.Refund,
  ): Promise<Result<WebhookOutcome, CommandError | WebhookRejectedError>> => {
    // Ours carry our origin and credit note; anything else (the dashboard, another system) is external.
    const creditNoteId = refund.metadata?.creditNoteId;
    const ours = Boolean(creditNoteId) && (refund.metadata?.origin ?? origin) === origin;
    const outcome = ours ? await handleOurRefund(event, refund, creditNoteId!) : await handleExternalRefund(event, refund);
    // A genuine event the lifecycle cannot take (a zero amount, a foreign id format) will never become acceptable:
    // acknowledge it, or Stripe would deliver it for three days.
    return outcome.isErr() && outcome.error.code === 'validation_failed' ? ok(ignored(event, 'unprocessable_event')) : outcome;
  };

  const handleChargeConfirmed = async (
    event: Stripe.Event,
    intent: Stripe.PaymentIntent,
  ): Promise<Result<WebhookOutcome, CommandError | WebhookRejectedError>> => {
    // Credit notes may name the payment by its intent or by its charge; both hear of the confirmation.
    const charge = idOf(intent.latest_charge);
    const released: string[] = [];
    let changed = false;
    for (const paymentId of [intent.id, charge]) {
      if (paymentId === null) continue;
      const creditNotes = await creditNotesOfPayment(event, paymentId);
      if (creditNotes.isErr()) return err(creditNotes.error);
      // The intent's own stream is always written: a credit note issued later must find the charge confirmed.
      if (paymentId !== intent.id && creditNotes.value.length === 0) continue;
      const confirmed = await lifecycle.confirmCharge({ paymentId, processor: 'stripe', source: 'webhook', causationId: event.id });
      if (confirmed.isErr()) return err(confirmed.error);
      changed ||= confirmed.value.changed;
      released.push(...confirmed.value.released);
    }
    return ok(outcomeOf(event, changed, released));
  };

  const handle = async (delivery: WebhookDelivery): Promise<Result<WebhookOutcome, CommandError | WebhookRejectedError>> => {
    const verified = verify(delivery);
    if (verified.isErr()) return err(verified.error);
    const event = verified.value;
    if (event.livemode !== livemode) {
      return reject('livemode_mismatch', `Event ${event.id} is ${event.livemode ? 'live' : 'test'} mode; this endpoint is ${livemode ? 'live' : 'test'}`);
    }
    if (refundEvents.has(event.type)) return handleRefund(event, event.data.object as Stripe.Refund);
    if (event.type === 'charge.refunded') {
      // The charge may list its refunds; each is observed like a refund event, and refund.* events tell the rest.
      const refunds = (event.data.object as Stripe.Charge).refunds?.data ?? [];
      const outcomes: WebhookOutcome[] = [];
      for (const refund of refunds) {
        const outcome = await handleRefund(event, refund);
        if (outcome.isErr()) return err(outcome.error);
        outcomes.push(outcome.value);
      }
      const touched = outcomes.flatMap((outcome) => outcome.creditNoteIds);
      if (outcomes.length === 0) return ok(ignored(event, 'no_refunds_in_payload'));
      return ok(outcomeOf(event, outcomes.some((outcome) => outcome.outcome === 'applied'), touched));
    }
    if (event.type === 'payment_intent.succeeded') return handleChargeConfirmed(event, event.data.object as Stripe.PaymentIntent);
    return ok(ignored(event, 'unhandled_event_type'));
  };

  return {
    /**
     * Verify and apply one delivery. `Ok` (acknowledge with 200) for anything
     * applied, already known or not ours; `Err(WebhookRejectedError)` (answer
     * 400) when it must not be trusted; other errors (a store outage: 500) ask
     * Stripe to deliver again later.
     */
    handleWebhook: (delivery: WebhookDelivery): ResultAsync<WebhookOutcome, CommandError | WebhookRejectedError> =>
      new ResultAsync(
        handle(delivery).catch((cause: unknown) => err<WebhookOutcome, StoreError>(new StoreError(cause))),
      ),
  };
};

export type StripeWebhooks = ReturnType<typeof stripeWebhooks>;
