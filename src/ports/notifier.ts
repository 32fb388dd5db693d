import type { CreditNoteView } from '../lifecycle/creditNoteView.js';
import type { HookName, NotificationKind, Recipient } from '../machine/creditNoteMachine.js';

export type { HookName, NotificationKind, Recipient };

export type Notification = {
  /** Deterministic, e.g. `cn_1:notify:refund_completed:1`: pass it to your email provider to deduplicate. */
  idempotencyKey: string;
  kind: NotificationKind;
  recipient: Recipient;
  creditNote: CreditNoteView;
};

/** Sends emails (or anything else). Throwing means "not sent": the dispatcher tries again later. */
export interface Notifier {
  send(notification: Notification): Promise<void>;
}

export type HookCall = { idempotencyKey: string; hook: HookName; creditNote: CreditNoteView };

/** The host's own reactions, e.g. close the proposal once the refund succeeded. Throwing means "try again later". */
export type RefundHooks = Partial<Record<HookName, (call: HookCall) => Promise<void> | void>>;

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
