// refund-lifecycle/adyen — the Adyen adapter. Needs `@adyen/api-library` (an optional peer dependency).
export {
  adyenGateway,
  adyenCapabilities,
  adyenRefreshAdvice,
  adyenMerchantRefundReasons,
  toAdyenGatewayError,
  readAdyenFailure,
  type AdyenGatewayOptions,
  type AdyenMerchantRefundReason,
  type AdyenRefundsApi,
} from './adyenGateway.js';
export {
  adyenNotifications,
  adyenNotificationAnswer,
  adyenAcknowledgement,
  adyenCausationId,
  toProcessorRefundFromNotification,
  AdyenNotificationRejectedError,
  type AdyenNotifications,
  type AdyenNotificationsOptions,
  type AdyenNotificationDelivery,
  type AdyenNotificationRejection,
  type AdyenNotificationError,
  type AdyenBatchOutcome,
  type AdyenItemOutcome,
} from './adyenNotifications.js';
export {
  adyenIdempotencyKey,
  adyenRefundReference,
  parseAdyenReference,
  adyenIdempotencyKeyMaxLength,
  adyenReferenceMaxLength,
  type ParsedReference,
} from './references.js';
export {
  adyenFailureReasons,
  adyenFailureReasonOf,
  adviseOnFailureReason,
  adviseOnRefusal,
  adyenRefusalReasonOf,
  type AdyenFailureReason,
  type FailureAdvice,
} from './failureReasons.js';
