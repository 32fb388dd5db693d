import type { Clock } from '../ports/notifier.js';
import type { RefundGateway } from '../ports/refundGateway.js';

/**
 * Spaces calls at least `1000 / ratePerSecond` ms apart on the lifecycle's
 * clock, so no second of that clock holds more than `ratePerSecond` of them
 * (Stripe's read limits: 100 a second live, 25 in test mode). `sleep` is how
 * it waits; a test passes its manual clock's, so time moves without timers.
 */
export const pacer = (clock: Clock, ratePerSecond: number, sleep: (ms: number) => Promise<void>) => {
  const interval = 1000 / ratePerSecond;
  let next = Number.NEGATIVE_INFINITY;
  return async (): Promise<void> => {
    const now = clock.now().getTime();
    if (next > now) await sleep(next - now);
    next = Math.max(clock.now().getTime(), next) + interval;
  };
};

/** The gateway with every call paced, and counted. */
export const pacedGateway = (gateway: RefundGateway, pace: () => Promise<void>) => {
  let calls = 0;
  const paced = <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      await pace();
      calls += 1;
      return call(...args);
    };
  const wrapped: RefundGateway = {
    processor: gateway.processor,
    ...(gateway.capabilities === undefined ? {} : { capabilities: gateway.capabilities }),
    createRefund: paced(gateway.createRefund.bind(gateway)),
    retrieveRefund: paced(gateway.retrieveRefund.bind(gateway)),
    findRefunds: paced(gateway.findRefunds.bind(gateway)),
    describePayment: paced(gateway.describePayment.bind(gateway)),
  };
  return { gateway: wrapped, calls: () => calls };
};

export const timerSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
