import type { Notification, Notifier } from '../ports/notifier.js';

export type RecordingNotifier = Notifier & {
  /** Every call, repeats included (a dispatcher that crashed after sending calls again). */
  readonly calls: readonly Notification[];
  /** What recipients received: one per idempotency key, as a deduplicating email provider delivers. */
  delivered(): Notification[];
  /** The next `count` sends throw, as an unreachable email provider would. */
  failNext(count: number, message?: string): void;
};

export const recordingNotifier = (): RecordingNotifier => {
  const calls: Notification[] = [];
  const deliveredByKey = new Map<string, Notification>();
  let failures: { remaining: number; message: string } = { remaining: 0, message: '' };
  return {
    calls,
    delivered: () => [...deliveredByKey.values()],
    failNext: (count, message = 'notifier unavailable') => {
      failures = { remaining: count, message };
    },
    async send(notification) {
      calls.push(structuredClone(notification));
      if (failures.remaining > 0) {
        failures.remaining -= 1;
        throw new Error(failures.message);
      }
      if (!deliveredByKey.has(notification.idempotencyKey)) {
        deliveredByKey.set(notification.idempotencyKey, structuredClone(notification));
      }
    },
  };
};
