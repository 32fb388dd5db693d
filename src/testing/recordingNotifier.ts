import type { CreditNoteNotification, Notification, Notifier, RefundRequestNotification } from '../ports/notifier.js';

export type RecordingNotifier = Notifier & {
  /** Every call about a credit note, repeats included (a dispatcher that crashed after sending calls again). */
  readonly calls: readonly CreditNoteNotification[];
  /** What recipients received about credit notes: one per idempotency key, as a deduplicating email provider delivers. */
  delivered(): CreditNoteNotification[];
  /** Every call about a refund request, repeats included. */
  readonly requestCalls: readonly RefundRequestNotification[];
  /** What recipients received about refund requests: one per idempotency key. */
  deliveredRequestNotices(): RefundRequestNotification[];
  /** The next `count` sends throw, as an unreachable email provider would. */
  failNext(count: number, message?: string): void;
  /**
   * The next `count` sends misbehave: `throw` (the provider is down),
   * `time_out` (the call gives up before the provider took the email), or
   * `deliver_then_throw` (the provider took it, then the answer was lost: a
   * deduplicating provider delivers a repeat of the key only once).
   */
  misbehaveNext(count: number, how: NotifierMisbehaviour): void;
};

export type NotifierMisbehaviour = 'throw' | 'time_out' | 'deliver_then_throw';

const isAboutRequest = (notification: Notification): notification is RefundRequestNotification => 'request' in notification;

export const recordingNotifier = (): RecordingNotifier => {
  const calls: CreditNoteNotification[] = [];
  const requestCalls: RefundRequestNotification[] = [];
  const deliveredByKey = new Map<string, Notification>();
  let failures: { remaining: number; how: NotifierMisbehaviour; message: string } = { remaining: 0, how: 'throw', message: '' };
  const deliver = (notification: Notification) => {
    if (!deliveredByKey.has(notification.idempotencyKey)) {
      deliveredByKey.set(notification.idempotencyKey, structuredClone(notification));
    }
  };
  return {
    calls,
    requestCalls,
    delivered: () => [...deliveredByKey.values()].filter((notification) => !isAboutRequest(notification)),
    deliveredRequestNotices: () => [...deliveredByKey.values()].filter(isAboutRequest),
    failNext: (count, message = 'notifier unavailable') => {
      failures = { remaining: count, how: 'throw', message };
    },
    misbehaveNext: (count, how) => {
      const messages = { throw: 'notifier unavailable', time_out: 'notifier timed out', deliver_then_throw: 'connection reset after sending' };
      failures = { remaining: count, how, message: messages[how] };
    },
    async send(notification) {
      if (isAboutRequest(notification)) requestCalls.push(structuredClone(notification));
      else calls.push(structuredClone(notification));
      if (failures.remaining > 0) {
        failures.remaining -= 1;
        if (failures.how === 'deliver_then_throw') deliver(notification);
        throw new Error(failures.message);
      }
      deliver(notification);
    },
  };
};
