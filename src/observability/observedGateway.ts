import type { RefundGateway } from '../ports/refundGateway.js';
import type { Observer } from './observer.js';

/**
 * The gateway port with a span, a log line and a latency measure around each
 * call. It wraps the guarded gateway, so what it reports is what the
 * lifecycle acts on: a processor that threw is already a transient error.
 */
export const observedGateway = (gateway: RefundGateway, observer: Observer): RefundGateway => {
  if (!observer.enabled) return gateway;
  const { processor } = gateway;
  return {
    processor,
    ...(gateway.capabilities === undefined ? {} : { capabilities: gateway.capabilities }),
    createRefund: (request) =>
      observer.gatewayCall(
        {
          operation: 'createRefund',
          processor,
          creditNoteId: request.metadata.creditNoteId,
          paymentId: request.payment.paymentId,
          idempotencyKey: request.idempotencyKey,
        },
        () => gateway.createRefund(request),
      ),
    retrieveRefund: (request) =>
      observer.gatewayCall(
        { operation: 'retrieveRefund', processor, paymentId: request.payment.paymentId, processorRefundId: request.processorRefundId },
        () => gateway.retrieveRefund(request),
      ),
    findRefunds: (payment) =>
      observer.gatewayCall({ operation: 'findRefunds', processor, paymentId: payment.paymentId }, () => gateway.findRefunds(payment)),
    describePayment: (payment) =>
      observer.gatewayCall({ operation: 'describePayment', processor, paymentId: payment.paymentId }, () =>
        gateway.describePayment(payment),
      ),
  };
};
