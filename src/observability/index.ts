// Logs, traces and metrics. The root entry re-exports the ports (`Logger`, `Telemetry`…) and `silentLogger`;
// the rest is for the library's own adapters (the Stripe webhook handler records its deliveries with `recordWebhookOutcome`).
export { silentLogger, type Logger, type LogLevel } from './logger.js';
export {
  noopTelemetry,
  type Telemetry,
  type TelemetrySpan,
  type TelemetrySpanOptions,
  type TelemetrySpanEnd,
  type TelemetryAttributes,
  type TelemetryCounter,
  type TelemetryHistogram,
  type TelemetryInstrumentOptions,
} from './telemetry.js';
export { recordWebhookOutcome, type WebhookObservation } from './webhooks.js';
export { metricNames, attributeNames, createObserver, silentObserver, currentScope, type Observer } from './observer.js';
export { libraryVersion, instrumentationName } from './version.js';
