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
  type StripeEventHandlingOptions,
} from './stripeWebhooks.js';
export {
  stripeReconciler,
  ReconcileInterruptedError,
  reconcileCheckpointName,
  reconciledEventTypes,
  stripeEventRetentionDays,
  type StripeReconciler,
  type StripeReconcilerOptions,
  type ReconcileOptions,
  type ReconcileReport,
  type ReconcileCheckpoint,
  type ReconcileRejection,
  type ReconcileFailure,
  type ReconcileError,
} from './stripeReconciler.js';
export type { HandledEventType } from './stripeEventSchemas.js';
export {
  stripeFailureReasons,
  adviseOnFailureReason,
  adviseOnRefusal,
  type StripeFailureReason,
  type FailureAdvice,
} from './failureReasons.js';
