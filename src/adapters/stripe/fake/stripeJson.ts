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

export type StripeRefundJson = {
  id: string;
  object: 'refund';
  amount: number;
  balance_transaction: string | null;
  charge: string | StripeChargeJson;
  created: number;
  currency: string;
  destination_details: { type: PaymentMethodType } & Record<string, unknown>;
  failure_reason: string | null;
  metadata: Record<string, string>;
  payment_intent: string | StripePaymentIntentJson;
  reason: RefundReason | null;
  receipt_number: string | null;
  status: RefundStatus;
};

export type StripeChargeJson = {
  id: string;
  object: 'charge';
  amount: number;
  amount_captured: number;
  amount_refunded: number;
  created: number;
  currency: string;
  disputed: boolean;
  livemode: boolean;
  paid: boolean;
  payment_intent: string;
  payment_method_details: { type: PaymentMethodType } & Record<string, unknown>;
  refunded: boolean;
  status: 'succeeded' | 'pending';
  /** Present in `charge.*` webhooks and when expanded (`expand[]=refunds`), as in API versions since 2022-11-15. */
  refunds?: StripeList<StripeRefundJson>;
};

export type StripePaymentIntentJson = {
  id: string;
  object: 'payment_intent';
  amount: number;
  amount_received: number;
  created: number;
  currency: string;
  latest_charge: string | StripeChargeJson;
  livemode: boolean;
  metadata: Record<string, string>;
  payment_method_types: PaymentMethodType[];
  status: PaymentIntentStatus;
};

export type StripeEventType =
  | 'payment_intent.succeeded'
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
