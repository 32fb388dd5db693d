import type { Notification, Notifier } from '../ports/notifier.js';

export type RecordingNotifier = Notifier & {
  /** Every call, repeats included (a dispatcher that crashed after sending calls again). */
  readonly calls: readonly Notification[];
  /** What recipients received: one per idempotency key, as a deduplicating email provider delivers. */
  delivered(): Notification[];
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

export const recordingNotifier = (): RecordingNotifier => {
  const calls: Notification[] = [];
  const deliveredByKey = new Map<string, Notification>();
  let failures: { remaining: number; how: NotifierMisbehaviour; message: string } = { remaining: 0, how: 'throw', message: '' };
  const deliver = (notification: Notification) => {
    if (!deliveredByKey.has(notification.idempotencyKey)) {
      deliveredByKey.set(notification.idempotencyKey, structuredClone(notification));
    }
  };
  return {
    calls,
    delivered: () => [...deliveredByKey.values()],
    failNext: (count, message = 'notifier unavailable') => {
      failures = { remaining: count, how: 'throw', message };
    },
    misbehaveNext: (count, how) => {
      const messages = { throw: 'notifier unavailable', time_out: 'notifier timed out', deliver_then_throw: 'connection reset after sending' };
      failures = { remaining: count, how, message: messages[how] };
    },
    async send(notification) {
      calls.push(structuredClone(notification));
      if (failures.remaining > 0) {
        failures.remaining -= 1;
        if (failures.how === 'deliver_then_throw') deliver(notification);
        throw new Error(failures.message);
      }
      deliver(notification);
    },
  };
};
