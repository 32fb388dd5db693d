// refund-lifecycle/stripe/testing — a fake Stripe that the real SDK talks to over HTTP on 127.0.0.1, for host test suites.
export {
  startFakeStripeServer,
  type FakeStripeServer,
  type FakeStripeServerOptions,
  type RecordedRequest,
  type SignedWebhook,
  type WebhookDeliveryOptions,
  type WebhookDeliveryResult,
  type WebhookTarget,
  type FailureScript,
  type DelayScript,
  type DropScript,
  type RequestMatch,
  type NewCharge,
  type NewPaymentIntent,
  type RefundStatusDetail,
  type RefundPendingReason,
} from './fakeStripeServer.js';
