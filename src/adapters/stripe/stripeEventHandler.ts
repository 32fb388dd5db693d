import { err, ok, safeTry, type Result } from 'neverthrow';
import type Stripe from 'stripe';
import { RefundLifecycleError, type CommandError, type ValidationIssue } from '../../errors.js';
import type { z } from 'zod';
import { fastSafeParse } from '../../events/compileSchema.js';
import { toValidationIssues } from '../../events/validationIssues.js';
import type { RefundLifecycle } from '../../lifecycle/createRefundLifecycle.js';
import type { Clock } from '../../ports/notifier.js';
import type { Logger } from '../../observability/logger.js';
import type { Telemetry } from '../../observability/telemetry.js';
import {
  handledEventObjects,
  isHandledEventType,
  stripeEventEnvelopeSchema,
  stripeRefundSchema,
  type HandledEventType,
  type StripeChargePayload,
  type StripeEventEnvelope,
  type StripeEventPayload,
  type StripePaymentIntentPayload,
  type StripeRefundPayload,
} from './stripeEventSchemas.js';
import { defaultRefundOrigin, metadataValue, paymentIdsOf, toGatewayError, toProcessorRefund } from './stripeGateway.js';

/*
 * What a Stripe event does to the lifecycle, whichever way it came: a signed
 * webhook (stripeWebhooks, once its signature is verified) or the Events API
 * (stripeReconciler, an authenticated call that needs no signature). Both
 * validate and apply through `applyStripeEvent` below, so an event means the
 * same thing and is applied at most once, by whichever channel brings it first:
 * its causation id is the Stripe event id either way.
 */

export type WebhookRejection =
  | 'raw_body_required'
  | 'signature_missing'
  | 'signature_invalid'
  | 'timestamp_outside_tolerance'
  | 'payload_not_json'
  | 'payload_invalid'
  | 'thin_event'
  | 'livemode_mismatch'
  | 'account_mismatch';

/**
 * A webhook the library refuses to act on; nothing was written. Answer it
 * with a 400: a forged, replayed, misrouted or malformed delivery must not be
 * retried into success. The reconciler reports the same refusals (`rejected`)
 * for events the Events API served.
 */
export class WebhookRejectedError extends RefundLifecycleError {
  readonly code = 'webhook_rejected' as const;
  constructor(
    /** Stable: which check failed. */
    readonly reason: WebhookRejection,
    message: string,
    options?: { cause?: unknown; issues?: readonly ValidationIssue[] },
  ) {
    super(message, options);
    this.issues = options?.issues ?? [];
  }
  /** For `payload_invalid`: every field that is not as Stripe sends it. */
  readonly issues: readonly ValidationIssue[];
}

export type WebhookOutcome = {
  eventId: string;
  eventType: string;
  /** `applied`: something new was recorded; `unchanged`: already known (a redelivery, a stale status); `ignored`: not ours. */
  outcome: 'applied' | 'unchanged' | 'ignored';
  /**
   * Why an event was ignored: `unhandled_event_type`, `unknown_payment`, `unknown_credit_note`, `external_refund`
   * (adoption off), `no_payment`, `unprocessable_event` (genuine, but the lifecycle cannot take it, e.g. a zero
   * amount), `no_refunds`, `reported_by_refund_events` (a `charge.refunded` whose refunds have their own events).
   */
  reason: string | null;
  creditNoteIds: string[];
};

/** What the webhook handler and the reconciler share: how Stripe's events are applied to the lifecycle. */
export type StripeEventHandlingOptions = {
  lifecycle: RefundLifecycle;
  stripe: Stripe;
  /** Events of the other mode are refused. Default false (test mode). */
  livemode?: boolean;
  clock?: Clock;
  /** Follow refunds made in the Stripe dashboard as credit notes of processor origin (docs/glossary.md#processor-origin). Default true. */
  adoptExternalRefunds?: boolean;
  /** The `origin` the gateway writes in our refunds' metadata; must match `stripeGateway`'s (default `refund-lifecycle`). */
  origin?: string;
  /** Where deliveries and reconciliation runs are logged (pino's signature); silent by default. */
  logger?: Logger;
  /** Spans and metrics (`refund-lifecycle/opentelemetry`); none by default. */
  telemetry?: Telemetry;
};

/** How the event reached the library, written as the `source` of what it records. */
export type StripeEventChannel = 'webhook' | 'reconcile';

export type StripeEventAnswer = Result<WebhookOutcome, CommandError | WebhookRejectedError>;

export const reject = (reason: WebhookRejection, message: string, options?: { cause?: unknown; issues?: readonly ValidationIssue[] }) =>
  err(new WebhookRejectedError(reason, message, options));

// Compiled once: every delivery is validated, so the check must cost little next to the signature's.
const parseEnvelope = fastSafeParse(stripeEventEnvelopeSchema);
const parseObject = Object.fromEntries(
  Object.entries(handledEventObjects).map(([type, schema]) => [type, fastSafeParse(schema as z.ZodType)]),
) as { [T in HandledEventType]: (input: unknown) => z.ZodSafeParseResult<z.output<(typeof handledEventObjects)[T]>> };

/**
 * Since API version 2024-10-28 every refund has its own `refund.*` events, so
 * a `charge.refunded` tells nothing they do not. Endpoints on older versions
 * hear of card refunds only through `charge.refunded`, whose refund list is
 * not expanded since 2022-11-15: for them the handler asks Stripe.
 */
const refundEventsForEveryRefund = (apiVersion: string | null): boolean =>
  apiVersion !== null && /^\d{4}-\d{2}-\d{2}/.test(apiVersion) && apiVersion.slice(0, 10) >= '2024-10-28';

const describe = (issues: readonly ValidationIssue[]): string =>
  issues.map((issue) => `${issue.path || '(root)'}: ${issue.message}`).join('; ');

/** The envelope, then the object of a handled type; `payload: null` for a valid event of a type we do not take. */
export const validateStripeEvent = (
  body: unknown,
): Result<{ event: StripeEventEnvelope; payload: StripeEventPayload | null }, WebhookRejectedError> => {
  if (typeof body === 'object' && body !== null && (body as { object?: unknown }).object === 'v2.core.event') {
    return reject(
      'thin_event',
      'A thin event (v2.core.event) carries no object to act on: send this endpoint snapshot events (an event destination of payload style "snapshot")',
    );
  }
  const envelope = parseEnvelope(body);
  if (!envelope.success) {
    const issues = toValidationIssues(envelope.error);
    return reject('payload_invalid', `The signed body is not a Stripe event: ${describe(issues)}`, { issues });
  }
  const event = envelope.data;
  if (!isHandledEventType(event.type)) return ok({ event, payload: null });
  const object = parseObject[event.type](event.data.object);
  if (!object.success) {
    const issues = toValidationIssues(object.error).map((issue) => ({ ...issue, path: `data.object.${issue.path}` }));
    return reject('payload_invalid', `Event ${event.id} (${event.type}) carries no valid object: ${describe(issues)}`, { issues });
  }
  return ok({ event, payload: { type: event.type, object: object.data } as StripeEventPayload });
};

/**
 * Validates a Stripe event and turns it into the lifecycle's processor-neutral
 * observations: refund events observe (or adopt) a refund, `charge.refunded`
 * does so for each of the charge's refunds, `payment_intent.succeeded`
 * confirms the charge. Safe to repeat: an event already applied, by either
 * channel, changes nothing. Nothing here checks where the body came from: the
 * caller has (a webhook's signature, or the authenticated Events API).
 */
export const stripeEventApplier = (options: StripeEventHandlingOptions) => {
  const { lifecycle, stripe } = options;
  const livemode = options.livemode ?? false;
  const adopt = options.adoptExternalRefunds ?? true;
  const origin = options.origin ?? defaultRefundOrigin;

  const outcomeOf = (event: StripeEventEnvelope, changed: boolean, creditNoteIds: string[]): WebhookOutcome =>
    ({ eventId: event.id, eventType: event.type, outcome: changed ? 'applied' : 'unchanged', reason: null, creditNoteIds });
  const ignored = (event: StripeEventEnvelope, reason: string): WebhookOutcome =>
    ({ eventId: event.id, eventType: event.type, outcome: 'ignored', reason, creditNoteIds: [] });

  /** Typed answers of the lifecycle that mean "not from the right place" or "not ours" rather than failure. */
  const answerOf = (event: StripeEventEnvelope, error: CommandError): StripeEventAnswer => {
    if (error.code === 'account_mismatch') {
      return reject('account_mismatch', `Event ${event.id} comes from account ${event.account ?? 'platform'}: ${error.message}`);
    }
    const namesNoCreditNote =
      error.code === 'validation_failed' && error.issues.every((issue) => issue.path === 'refund.metadata.creditNoteId');
    if (error.code === 'credit_note_not_found' || namesNoCreditNote) return ok(ignored(event, 'unknown_credit_note'));
    // A genuine event the lifecycle cannot take (a zero amount, a foreign id format) will never become acceptable:
    // acknowledge it, or Stripe would deliver it for three days.
    if (error.code === 'validation_failed') return ok(ignored(event, 'unprocessable_event'));
    return err(error);
  };

  /** The credit notes refunding a payment, provided the event comes from the account they were issued on. */
  const creditNotesOfPayment = (event: StripeEventEnvelope, paymentId: string) =>
    lifecycle.listCreditNotes({ paymentId, limit: 500 }).andThen((creditNotes) => {
      const account = event.account ?? null;
      const foreign = creditNotes.find((view) => (view.payment?.account ?? null) !== account);
      return foreign
        ? reject('account_mismatch', `Event ${event.id} comes from account ${account ?? 'platform'}, not the account of ${foreign.creditNoteId}`)
        : ok(creditNotes);
    });

  /**
   * One refund, whatever event carried it. The lifecycle looks the refund id
   * up first: a refund recorded on a credit note stays its own whatever its
   * metadata says now. Metadata only routes a refund never recorded yet.
   */
  const handleRefund = (event: StripeEventEnvelope, refund: StripeRefundPayload, source: StripeEventChannel, causationId = event.id) =>
    safeTry(async function* () {
      const account = event.account ?? null;
      const named = metadataValue(refund.metadata, 'creditNoteId');
      const ours = named !== null && (metadataValue(refund.metadata, 'origin') ?? origin) === origin;
      const common = { source, causationId, account };
      if (ours) {
        return lifecycle
          .observeRefund({ refund: toProcessorRefund(refund), ...common })
          .map(({ creditNote, changed }) => outcomeOf(event, changed, [creditNote.creditNoteId]))
          .orElse((error) => answerOf(event, error));
      }
      const paymentIds = paymentIdsOf(refund);
      if (paymentIds.length === 0) return ok(ignored(event, 'no_payment'));
      // The payment may be known by its intent or by its charge: follow it under the id its credit notes use.
      for (const paymentId of paymentIds) {
        if ((yield* creditNotesOfPayment(event, paymentId)).length === 0) continue;
        // Whatever another system wrote in its metadata names none of our credit notes.
        const external = { ...toProcessorRefund(refund, paymentId), metadata: { creditNoteId: null, attempt: null } };
        if (!adopt) {
          // Not adopted, but a refund recorded on a credit note is still that credit note's news.
          return lifecycle
            .observeRefund({ refund: external, ...common })
            .map(({ creditNote, changed }) => outcomeOf(event, changed, [creditNote.creditNoteId]))
            .orElse((error) => (error.code === 'validation_failed' ? ok(ignored(event, 'external_refund')) : answerOf(event, error)));
        }
        return lifecycle
          .adoptExternalRefund({ refund: external, ...common })
          .map(({ creditNote, changed }) =>
            creditNote === null ? ignored(event, 'unknown_payment') : outcomeOf(event, changed, [creditNote.creditNoteId]),
          )
          .orElse((error) => answerOf(event, error));
      }
      return ok(ignored(event, 'unknown_payment'));
    });

  /** The refunds of a charge our credit notes refund, as Stripe lists them now. */
  const refundsOfCharge = (event: StripeEventEnvelope, charge: StripeChargePayload) =>
    safeTry(async function* () {
      for (const paymentId of [charge.payment_intent ?? null, charge.id]) {
        if (paymentId === null) continue;
        if ((yield* creditNotesOfPayment(event, paymentId)).length > 0) break;
        if (paymentId === charge.id) return ok(null);
      }
      try {
        const refunds: StripeRefundPayload[] = [];
        const list = stripe.refunds.list({ charge: charge.id, limit: 100 }, event.account ? { stripeAccount: event.account } : {});
        for await (const refund of list) {
          // Stripe's answer is data entering too; a refund we cannot read is skipped, not guessed at.
          const parsed = stripeRefundSchema.safeParse(refund);
          if (parsed.success) refunds.push(parsed.data);
        }
        return ok(refunds);
      } catch (error) {
        // Unanswered, the event is asked for again: Stripe redelivers it.
        return err(toGatewayError(error));
      }
    });

  const handleChargeRefunded = (event: StripeEventEnvelope, charge: StripeChargePayload, source: StripeEventChannel) =>
    safeTry(async function* () {
      let refunds = charge.refunds && !charge.refunds.has_more ? charge.refunds.data : null;
      if (refunds === null) {
        if (refundEventsForEveryRefund(event.api_version)) return ok(ignored(event, 'reported_by_refund_events'));
        refunds = yield* refundsOfCharge(event, charge);
        if (refunds === null) return ok(ignored(event, 'unknown_payment'));
      }
      if (refunds.length === 0) return ok(ignored(event, 'no_refunds'));
      const outcomes: WebhookOutcome[] = [];
      // Each listed refund is its own cause: a delivery cut short after the first is finished by its redelivery.
      for (const refund of refunds) outcomes.push(yield* handleRefund(event, refund, source, `${event.id}:${refund.id}`));
      const touched = [...new Set(outcomes.flatMap((outcome) => outcome.creditNoteIds))];
      if (touched.length === 0) return ok(ignored(event, outcomes[0]?.reason ?? 'unknown_payment'));
      return ok(outcomeOf(event, outcomes.some((outcome) => outcome.outcome === 'applied'), touched));
    });

  const handleChargeConfirmed = (event: StripeEventEnvelope, intent: StripePaymentIntentPayload, source: StripeEventChannel) =>
    safeTry(async function* () {
      // Credit notes may name the payment by its intent or by its charge: both are checked and confirmed, in one append.
      const charge = intent.latest_charge ?? null;
      for (const paymentId of charge === null ? [intent.id] : [intent.id, charge]) yield* creditNotesOfPayment(event, paymentId);
      return lifecycle
        .confirmCharge({ paymentId: intent.id, alsoKnownAs: charge, processor: 'stripe', source, causationId: event.id })
        .map(({ changed, released }) => outcomeOf(event, changed, released))
        .orElse((error) => answerOf(event, error));
    });

  /** Validate, check the mode, apply. The body is trusted to be Stripe's: the caller has made sure of it. */
  const apply = async (body: unknown, source: StripeEventChannel): Promise<StripeEventAnswer> =>
    safeTry(async function* () {
      const { event, payload } = yield* validateStripeEvent(body);
      if (event.livemode !== livemode) {
        return reject('livemode_mismatch', `Event ${event.id} is ${event.livemode ? 'live' : 'test'} mode; this endpoint is ${livemode ? 'live' : 'test'}`);
      }
      if (payload === null) return ok(ignored(event, 'unhandled_event_type'));
      switch (payload.type) {
        case 'charge.refunded':
          return handleChargeRefunded(event, payload.object, source);
        case 'payment_intent.succeeded':
          return handleChargeConfirmed(event, payload.object, source);
        default:
          return handleRefund(event, payload.object, source);
      }
    });

  return { livemode, apply };
};

export type StripeEventApplier = ReturnType<typeof stripeEventApplier>;
