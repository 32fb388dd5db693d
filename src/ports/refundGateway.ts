import type { Result } from 'neverthrow';
import type { GatewayError } from '../errors.js';
import type { FailureClassification, PaymentRef, ProcessorPendingReason, ProcessorRefundStatus } from '../events/primitives.js';

export type CreateRefundRequest = {
  /** `<creditNoteId>:refund:<attempt>`, stored before this call. */
  idempotencyKey: string;
  payment: PaymentRef;
  amount: number;
  currency: string;
  /** Written on the processor's refund so a webhook or a search leads back to the attempt. */
  metadata: { creditNoteId: string; attempt: number };
};

/** A refund as the processor reports it, in the library's processor-neutral words. */
export type ProcessorRefund = {
  processorRefundId: string;
  paymentId: string;
  /** Other ids the same payment goes by (Stripe: the charge of an intent, or the intent of a charge). */
  paymentAliases?: string[];
  amount: number;
  currency: string;
  status: ProcessorRefundStatus;
  /** Why a `pending` refund waits, when the processor says; absent or null otherwise. */
  pendingReason?: ProcessorPendingReason | null;
  failure: { reason: string; classification: FailureClassification; message: string } | null;
  metadata: { creditNoteId: string | null; attempt: number | null };
};

/** What the processor says of a payment: enough to guard its refundable balance and refund window. */
export type ProcessorPayment = {
  paymentId: string;
  /** What was charged, in minor units; null when the processor cannot say. */
  amount: number | null;
  currency: string | null;
  /** The payment method type, e.g. `card`, `sepa_debit`, `us_bank_account`. */
  method: string | null;
  /** After this instant the processor refuses refunds (ACH / SEPA debits: about 180 days); null when unlimited. */
  refundableUntil: string | null;
  /**
   * Whether the processor holds the charge as confirmed (Stripe: the intent `succeeded`), asked when no
   * confirmation was seen yet: it opens the charge-confirmation gate by pull. Absent or null when it cannot say.
   */
  chargeConfirmed?: boolean | null;
};

/** What a processor can be asked, beyond creating refunds. */
export type GatewayCapabilities = {
  /**
   * It answers questions about a refund (`retrieveRefund`, `findRefunds`), so Refresh and the sweep can pull a
   * status. False for a processor whose outcomes come only by webhook (Adyen): Refresh then answers
   * `refresh_unavailable` with `refreshAdvice`, the Credit Notes page does not offer it, and the sweep skips it.
   */
  pullsRefundStatus: boolean;
  /** What a person can do instead of Refresh, for a processor that cannot be asked. */
  refreshAdvice?: string;
};

/** Every processor Stripe-like until it says otherwise. */
export const defaultGatewayCapabilities: GatewayCapabilities = { pullsRefundStatus: true };

/** Payment-processor port (Stripe, Adyen, the fake). Errors are returned, classified transient or definitive. */
export interface RefundGateway {
  readonly processor: string;
  /** Absent: `defaultGatewayCapabilities` (it can be asked). */
  readonly capabilities?: GatewayCapabilities;
  createRefund(request: CreateRefundRequest): Promise<Result<ProcessorRefund, GatewayError>>;
  retrieveRefund(request: { payment: PaymentRef; processorRefundId: string }): Promise<Result<ProcessorRefund, GatewayError>>;
  /** Every refund of a payment: finds an attempt whose answer was lost. */
  findRefunds(payment: PaymentRef): Promise<Result<ProcessorRefund[], GatewayError>>;
  describePayment(payment: PaymentRef): Promise<Result<ProcessorPayment, GatewayError>>;
}
