import { err, type Result } from 'neverthrow';
import { GatewayError } from '../errors.js';
import type { RefundGateway } from '../ports/refundGateway.js';

const guard =
  <A extends unknown[], T>(call: (...args: A) => Promise<Result<T, GatewayError>>) =>
  async (...args: A): Promise<Result<T, GatewayError>> => {
    try {
      return await call(...args);
    } catch (cause) {
      // Whether a throwing processor acted is unknown, so it counts as in doubt: transient, retried under the same key.
      const message = cause instanceof Error ? cause.message : String(cause);
      return err(new GatewayError('transient', 'unexpected_error', message, { cause }));
    }
  };

/**
 * The gateway port returns its errors; one that throws anyway (a network
 * error an adapter forgot to map) must not pass for a store failure.
 */
export const guardedGateway = (gateway: RefundGateway): RefundGateway => ({
  processor: gateway.processor,
  createRefund: guard(gateway.createRefund.bind(gateway)),
  retrieveRefund: guard(gateway.retrieveRefund.bind(gateway)),
  findRefunds: guard(gateway.findRefunds.bind(gateway)),
});
