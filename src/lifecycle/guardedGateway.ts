import { err, ok, type Result } from 'neverthrow';
import { z } from 'zod';
import { GatewayError } from '../errors.js';
import { fastSafeParse } from '../events/compileSchema.js';
import type { ProcessorPayment, ProcessorRefund, RefundGateway } from '../ports/refundGateway.js';
import { paymentDescribedSchema } from '../events/paymentEvents.js';
import { processorRefundSchema } from './commandInputs.js';

const transient = (code: string, message: string, cause?: unknown) =>
  new GatewayError('transient', code, message, cause === undefined ? {} : { cause });

/** An answer we cannot read tells nothing about the refund: it stays in doubt and is asked again. */
const reading =
  <T>(schema: z.ZodType<T>, what: string) => {
  const parse = fastSafeParse(schema);
  return (answer: unknown): Result<T, GatewayError> => {
    const parsed = parse(answer);
    return parsed.success
      ? ok(parsed.data)
      : err(transient('invalid_processor_answer', `The processor's answer is not ${what}: ${parsed.error.message}`));
  };
};

// The same facts the payment stream records, plus the payment they describe.
const processorPaymentSchema = paymentDescribedSchema.extend({ paymentId: z.string().min(1), chargeConfirmed: z.boolean().nullable().optional() }).strict();
const readRefund = reading<ProcessorRefund>(processorRefundSchema, 'a refund');
const readRefunds = reading<ProcessorRefund[]>(z.array(processorRefundSchema), 'a list of refunds');
const readPayment = reading<ProcessorPayment>(processorPaymentSchema, 'a payment');

const readError = (error: unknown): GatewayError =>
  error instanceof GatewayError && error.processorCode.length > 0
    ? error
    : transient('invalid_processor_answer', 'The processor failed without a usable error', error);

const guard =
  <A extends unknown[], T>(
    call: (...args: A) => Promise<Result<unknown, GatewayError>>,
    read: (answer: unknown) => Result<T, GatewayError>,
  ) =>
  async (...args: A): Promise<Result<T, GatewayError>> => {
    try {
      const answer = await call(...args);
      return answer.isOk() ? read(answer.value) : err(readError(answer.error));
    } catch (cause) {
      // Whether a throwing processor acted is unknown, so it counts as in doubt: transient, retried under the same key.
      return err(transient('unexpected_error', cause instanceof Error ? cause.message : String(cause), cause));
    }
  };

/**
 * The gateway port is a boundary like a webhook: its answers are validated
 * before they become events, and one that throws, or answers nonsense, is a
 * transient error rather than a store failure or a stuck credit note.
 */
export const guardedGateway = (gateway: RefundGateway): RefundGateway => ({
  processor: gateway.processor,
  ...(gateway.capabilities === undefined ? {} : { capabilities: gateway.capabilities }),
  createRefund: guard(gateway.createRefund.bind(gateway), readRefund),
  retrieveRefund: guard(gateway.retrieveRefund.bind(gateway), readRefund),
  findRefunds: guard(gateway.findRefunds.bind(gateway), readRefunds),
  describePayment: guard(gateway.describePayment.bind(gateway), readPayment),
});
