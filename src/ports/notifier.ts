import type { CreditNoteView } from '../lifecycle/creditNoteView.js';
import type { HookName, NotificationKind, Recipient } from '../machine/creditNoteMachine.js';
import type { DecidedOutcome } from '../lifecycle/outboxDrafts.js';
import type { RefundRequestHookName, RefundRequestNoticeKind, RefundRequestRecipient } from '../machine/refundRequestMachine.js';
import type { RefundRequestDecided, RefundRequestView } from '../requests/refundRequestView.js';

export type { DecidedOutcome, HookName, NotificationKind, Recipient };
export type { RefundRequestDecided, RefundRequestHookName, RefundRequestNoticeKind, RefundRequestRecipient };

/** A notice about a credit note's refund. */
export type CreditNoteNotification = {
  /** Deterministic, e.g. `cn_1:notify:refund_completed:1`: pass it to your email provider to deduplicate. */
  idempotencyKey: string;
  kind: NotificationKind;
  recipient: Recipient;
  /**
   * What this notice is about, as it was decided and recorded with the outbox
   * entry: the attempt, its outcome, the failure reason and advice, the amount.
   * Write the message from this.
   */
  decided: DecidedOutcome;
  /**
   * The credit note as it is now, read when the notice is sent. It may have
   * moved on since the decision (a retry asked for attempt 2 while the
   * `refund_failed` of attempt 1 waited): use it for links and current
   * buttons, never to say what happened.
   */
  creditNote: CreditNoteView;
};

/**
 * A notice about a customer's refund request: received (to the merchant),
 * approved or rejected with the merchant's note (to the client). The money's
 * outcome is the credit note's own `refund_completed`.
 */
export type RefundRequestNotification = {
  /** Deterministic, e.g. `rr_1:request:refund_request_rejected`. */
  idempotencyKey: string;
  kind: RefundRequestNoticeKind;
  recipient: RefundRequestRecipient;
  /** The decision as it was recorded with the outbox entry: write the message from this. */
  decided: RefundRequestDecided;
  /** The request as it is now, for links: it may have moved on (its refund may have succeeded since). */
  request: RefundRequestView;
};

/** Switch on `kind`: `refund_request_*` kinds carry a request, the others a credit note. */
export type Notification = CreditNoteNotification | RefundRequestNotification;

/** Sends emails (or anything else). Throwing means "not sent": the dispatcher tries again later. */
export interface Notifier {
  send(notification: Notification): Promise<void>;
}

export type HookCall = {
  idempotencyKey: string;
  hook: HookName;
  /** What the hook reacts to, as it was decided: see {@link Notification.decided}. */
  decided: DecidedOutcome;
  /** The credit note as it is now, which may have moved on since the decision: see {@link Notification.creditNote}. */
  creditNote: CreditNoteView;
};

/** An approved refund request ends the subscription the payment renews (refund + cancel, or cancel only). */
export type CancelSubscriptionCall = {
  /** Deterministic per request: pass it to your billing system to deduplicate. */
  idempotencyKey: string;
  hook: RefundRequestHookName;
  subscriptionId: string;
  requestId: string;
  decided: RefundRequestDecided;
  request: RefundRequestView;
};

/**
 * The host's own reactions, e.g. close the proposal once the refund succeeded,
 * or cancel the subscription of an approved request. Each runs exactly once
 * through the outbox; throwing means "try again later".
 */
export type RefundHooks = Partial<Record<HookName, (call: HookCall) => Promise<void> | void>> & {
  cancelSubscription?: (call: CancelSubscriptionCall) => Promise<void> | void;
};

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
