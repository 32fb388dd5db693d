import type { Clock } from '../ports/notifier.js';

export type ManualClock = Clock & {
  advance(ms: number): Date;
  set(instant: Date | string): Date;
  /** Waits `ms` of this clock: moves it on at once. Pass it as `createRefundLifecycle({ sleep })` for rate-limited work. */
  sleep(ms: number): Promise<void>;
};

/** A clock that moves only when told: leases, backoffs and timestamps become reproducible. */
export const manualClock = (start: Date | string = '2026-01-01T09:00:00.000Z'): ManualClock => {
  let current = new Date(start).getTime();
  return {
    now: () => new Date(current),
    advance: (ms) => new Date((current += ms)),
    set: (instant) => new Date((current = new Date(instant).getTime())),
    sleep: async (ms) => {
      current += Math.max(0, ms);
    },
  };
};
