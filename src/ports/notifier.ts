import type { CreditNoteView } from '../lifecycle/creditNoteView.js';
import type { HookName, NotificationKind, Recipient } from '../machine/creditNoteMachine.js';
import type { DecidedOutcome } from '../lifecycle/outboxDrafts.js';

export type { DecidedOutcome, HookName, NotificationKind, Recipient };

export type Notification = {
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

/** The host's own reactions, e.g. close the proposal once the refund succeeded. Throwing means "try again later". */
export type RefundHooks = Partial<Record<HookName, (call: HookCall) => Promise<void> | void>>;

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
