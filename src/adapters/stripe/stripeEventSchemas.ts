import { z } from 'zod';

/*
 * What a signed Stripe event must look like before the lifecycle acts on it.
 * A valid signature proves who sent a body, not that the body is an event the
 * handler can read: these schemas are the line between "Stripe never sends
 * this" (a typed rejection) and "a genuine event" (applied, or ignored with a
 * reason). Unknown fields pass and are dropped, since Stripe adds fields
 * without a new API version; every field read downstream is declared here.
 */

/** An id with one of Stripe's prefixes and something after it (prefixes are letters and `_`, safe in a pattern). */
const prefixed = (what: string, ...prefixes: string[]) =>
  z
    .string()
    .max(255)
    .regex(new RegExp(`^(?:${prefixes.join('|')})[\\s\\S]`), `must be a ${what} id (${prefixes.join(' or ')}…)`);

/** Any JSON object; what it must hold is checked against the event's type. */
const anyObject = z.custom<Record<string, unknown>>(
  (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
  { message: 'must be an object' },
);

const eventId = prefixed('Stripe event', 'evt_');
const accountId = prefixed('Connect account', 'acct_');
const refundId = prefixed('refund', 're_', 'pyr_');
const chargeId = prefixed('charge', 'ch_', 'py_');
const paymentIntentId = prefixed('payment intent', 'pi_');

/** A field Stripe sends as an id, or as the object when expanded. */
const expandable = (id: z.ZodType<string>) =>
  z.union([id, z.object({ id })]).transform((value) => (typeof value === 'string' ? value : value.id));

const amount = z.number().int('must be an integer number of minor units').min(0, 'must not be negative');
const currency = z.string().regex(/^[a-z]{3}$/, 'must be a lower-case three-letter ISO 4217 code');

/**
 * Metadata is a map of strings; anything else is not Stripe's. Checked on the
 * raw object's own keys, since a JSON `__proto__` key is an own key there that
 * a copy by assignment would silently drop. Read values with `metadataValue`.
 */
const metadata = z
  .custom<Record<string, string>>(
    (value) =>
      typeof value === 'object' &&
      value !== null &&
      !Array.isArray(value) &&
      Object.entries(value).every(([key, entry]) => key.length <= 255 && typeof entry === 'string'),
    { message: 'must be a map of strings' },
  )
  // Defined as own properties (never assigned), so no key can reach a prototype.
  .transform((value) => Object.fromEntries(Object.entries(value)) as Record<string, string>);

export const stripeRefundStatuses = ['pending', 'requires_action', 'succeeded', 'failed', 'canceled'] as const;

export const stripeRefundSchema = z.object({
  id: refundId,
  object: z.literal('refund'),
  amount,
  currency,
  status: z.enum(stripeRefundStatuses),
  metadata,
  charge: expandable(chargeId).nullable().optional(),
  payment_intent: expandable(paymentIntentId).nullable().optional(),
  failure_reason: z.string().nullable().optional(),
  // Since API version 2025-04-30; unknown reasons read as none rather than refusing a genuine event.
  pending_reason: z.string().nullable().optional(),
});
export type StripeRefundPayload = z.output<typeof stripeRefundSchema>;

export const stripeChargeSchema = z.object({
  id: chargeId,
  object: z.literal('charge'),
  amount,
  currency,
  payment_intent: expandable(paymentIntentId).nullable().optional(),
  // Listed only for endpoints on API versions before 2022-11-15; later ones must ask for them.
  refunds: z
    .object({ object: z.literal('list'), data: z.array(stripeRefundSchema), has_more: z.boolean() })
    .nullable()
    .optional(),
});
export type StripeChargePayload = z.output<typeof stripeChargeSchema>;

export const stripePaymentIntentSchema = z.object({
  id: paymentIntentId,
  object: z.literal('payment_intent'),
  amount,
  currency,
  latest_charge: expandable(chargeId).nullable().optional(),
});
export type StripePaymentIntentPayload = z.output<typeof stripePaymentIntentSchema>;

/** The envelope every snapshot event carries; `data.object` is checked against its type below. */
export const stripeEventEnvelopeSchema = z.object({
  id: eventId,
  object: z.literal('event'),
  type: z.string().min(1).max(255),
  api_version: z.string().nullable(),
  created: z.number().int(),
  livemode: z.boolean(),
  account: accountId.optional(),
  data: z.object({
    object: anyObject,
    previous_attributes: anyObject.optional(),
  }),
});
export type StripeEventEnvelope = z.output<typeof stripeEventEnvelopeSchema>;

/** The event types the lifecycle acts on, and the object each carries. */
export const handledEventObjects = {
  'refund.created': stripeRefundSchema,
  'refund.updated': stripeRefundSchema,
  'refund.failed': stripeRefundSchema,
  'charge.refund.updated': stripeRefundSchema,
  'charge.refunded': stripeChargeSchema,
  'payment_intent.succeeded': stripePaymentIntentSchema,
} as const;
export type HandledEventType = keyof typeof handledEventObjects;

export const isHandledEventType = (type: string): type is HandledEventType => Object.hasOwn(handledEventObjects, type);

export type StripeEventPayload =
  | { type: 'refund.created' | 'refund.updated' | 'refund.failed' | 'charge.refund.updated'; object: StripeRefundPayload }
  | { type: 'charge.refunded'; object: StripeChargePayload }
  | { type: 'payment_intent.succeeded'; object: StripePaymentIntentPayload };
