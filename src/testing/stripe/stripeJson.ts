/**
 * The JSON the fake answers and sends, shaped like Stripe's (API version
 * 2026-10-28.endive) for the fields a refund integration reads. Written out
 * here rather than imported from `stripe`, so the fake stays an independent
 * witness of what the adapter must cope with.
 */
export const fakeStripeApiVersion = '2026-10-28.endive';

export type PaymentMethodType = 'card' | 'sepa_debit' | 'us_bank_account' | 'bacs_debit';
export type PaymentIntentStatus = 'succeeded' | 'processing';
export type RefundStatus = 'pending' | 'requires_action' | 'succeeded' | 'failed' | 'canceled';
export type RefundReason = 'duplicate' | 'fraudulent' | 'requested_by_customer';

export type StripeList<T> = {
  object: 'list';
  data: T[];
  has_more: boolean;
  url: string;
  total_count?: number;
};

/** Why a refund is pending (API versions since 2025-04-30); absent unless the refund is `pending`. */
export type RefundPendingReason = 'charge_pending' | 'insufficient_funds' | 'processing';

/**
 * A card refund's `destination_details.card`: `type` is `pending` while the
 * refund is pending, `refund` once sent to the card network (with a reference
 * that becomes available later), or `reversal` when the authorisation itself
 * was reversed before settlement.
 */
export type CardRefundDestination = {
  reference: string | null;
  reference_status: 'pending' | 'available' | 'unavailable';
  reference_type: 'acquirer_reference_number';
  type: 'pending' | 'refund' | 'reversal';
};

/** `{ type: 'card', card: {...} }`, or for a bank debit `{ type: 'us_bank_transfer', us_bank_transfer: {...} }` and the like. */
export type RefundDestinationDetails = { type: string } & Record<string, unknown>;

/**
 * A Refund. As in Stripe, fields that only mean something in one state are
 * absent otherwise: `failure_reason` and `failure_balance_transaction` only on
 * a failed refund, `pending_reason` only on a pending one, `next_action` only
 * on one that `requires_action`.
 */
export type StripeRefundJson = {
  id: string;
  object: 'refund';
  amount: number;
  balance_transaction: string | null;
  /** Null only for refunds that are not of a charge (customer balance); the fake always has one. */
  charge: string | StripeChargeJson | null;
  created: number;
  currency: string;
  customer: string | null;
  customer_account: string | null;
  destination_details: RefundDestinationDetails;
  failure_balance_transaction?: string;
  failure_reason?: string;
  metadata: Record<string, string>;
  next_action?: {
    type: 'display_details';
    display_details: { email_sent: { email_sent_at: number; email_sent_to: string }; expires_at: number };
  };
  /** Null for a refund of a charge made without a payment intent (Charges API). */
  payment_intent: string | StripePaymentIntentJson | null;
  payment_method: string | null;
  pending_reason?: RefundPendingReason;
  reason: RefundReason | null;
  receipt_number: string | null;
  source_transfer_reversal: string | null;
  status: RefundStatus;
  transfer_reversal: string | null;
};

export type StripeChargeJson = {
  id: string;
  object: 'charge';
  amount: number;
  amount_captured: number;
  amount_refunded: number;
  application_fee_amount: number | null;
  balance_transaction: string | null;
  billing_details: {
    address: Record<'city' | 'country' | 'line1' | 'line2' | 'postal_code' | 'state', string | null>;
    email: string | null;
    name: string | null;
    phone: string | null;
  };
  calculated_statement_descriptor: string | null;
  captured: boolean;
  created: number;
  currency: string;
  customer: string | null;
  description: string | null;
  disputed: boolean;
  failure_code: string | null;
  failure_message: string | null;
  livemode: boolean;
  metadata: Record<string, string>;
  outcome: { network_status: string; reason: string | null; risk_level: string; seller_message: string; type: string } | null;
  paid: boolean;
  /** Null for a charge made with the Charges API, without a payment intent. */
  payment_intent: string | null;
  payment_method: string | null;
  payment_method_details: { type: PaymentMethodType } & Record<string, unknown>;
  receipt_url: string | null;
  refunded: boolean;
  status: 'succeeded' | 'pending';
  /**
   * Only with `expand[]=refunds`: Stripe stopped including it by default
   * (answers and `charge.*` webhooks alike) in API version 2022-11-15. The
   * fake's `chargeRefunds: 'always'` option brings back the older behaviour.
   */
  refunds?: StripeList<StripeRefundJson>;
};

export type StripePaymentIntentJson = {
  id: string;
  object: 'payment_intent';
  amount: number;
  amount_capturable: number;
  amount_received: number;
  capture_method: 'automatic' | 'automatic_async' | 'manual';
  client_secret: string | null;
  confirmation_method: 'automatic' | 'manual';
  created: number;
  currency: string;
  customer: string | null;
  description: string | null;
  last_payment_error: Record<string, unknown> | null;
  latest_charge: string | StripeChargeJson | null;
  livemode: boolean;
  metadata: Record<string, string>;
  next_action: Record<string, unknown> | null;
  payment_method: string | null;
  payment_method_types: PaymentMethodType[];
  status: PaymentIntentStatus;
};

export type StripeEventType =
  | 'payment_intent.succeeded'
  | 'charge.succeeded'
  | 'refund.created'
  | 'refund.updated'
  | 'refund.failed'
  | 'charge.refunded'
  | 'charge.refund.updated';

export type StripeEventJson = {
  id: string;
  object: 'event';
  /** Only on events about a connected account's objects (Connect direct charges). */
  account?: string;
  api_version: string;
  created: number;
  data: {
    object: StripeRefundJson | StripeChargeJson | StripePaymentIntentJson;
    previous_attributes?: Record<string, unknown>;
  };
  livemode: boolean;
  pending_webhooks: number;
  /** The API request that caused the event; both null for changes made elsewhere (dashboard, the bank). */
  request: { id: string | null; idempotency_key: string | null };
  type: StripeEventType;
};

/** Stripe's error body: `{ error: { type, code?, message, param? } }`. */
export type StripeErrorJson = {
  error: {
    type: 'invalid_request_error' | 'api_error' | 'card_error' | 'idempotency_error' | 'authentication_error' | (string & {});
    code?: string;
    message: string;
    param?: string;
    doc_url?: string;
  };
};
