// refund-lifecycle/stripe — the Stripe adapter. Needs the `stripe` package (an optional peer dependency).
export {
  stripeGateway,
  toProcessorRefund,
  toGatewayError,
  refundWindowDays,
  type StripeGatewayOptions,
} from './stripeGateway.js';
export {
  stripeWebhooks,
  WebhookRejectedError,
  type StripeWebhooks,
  type StripeWebhooksOptions,
  type WebhookDelivery,
  type WebhookOutcome,
  type WebhookRejection,
} from './stripeWebhooks.js';
export {
  stripeFailureReasons,
  adviseOnFailureReason,
  adviseOnRefusal,
  type StripeFailureReason,
  type FailureAdvice,
} from './failureReasons.js';
