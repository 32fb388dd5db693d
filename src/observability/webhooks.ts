import { silentLogger, type Logger, type LogLevel } from './logger.js';
import { attributeNames, errorMessage, metricNames, type LogFields } from './observer.js';
import { noopTelemetry, type Telemetry, type TelemetryCounter } from './telemetry.js';

/** One webhook delivery as its handler answered it. Ids, codes and reasons only: never the body or the signature. */
export type WebhookObservation = {
  /** `stripe`. */
  processor: string;
  /**
   * `applied`, `unchanged`, `ignored` (answered 200), `rejected` (400: forged, stale, malformed, misrouted)
   * or `failed` (500: the store, the processor or a bug).
   */
  outcome: 'applied' | 'unchanged' | 'ignored' | 'rejected' | 'failed';
  /** Why it was ignored or rejected: `unhandled_event_type`, `signature_invalid`… A short code from a fixed set. */
  reason?: string | null;
  /** The id the commands of this delivery carried as their correlation id; the event id when nothing else. */
  correlationId: string;
  /** The processor's event id (`evt_…`): the causation of what the delivery wrote. Null when it could not be read. */
  eventId?: string | null;
  /** The processor's event type, e.g. `refund.updated`. */
  eventType?: string | null;
  /** The credit notes it touched. */
  creditNoteIds?: readonly string[];
  /** With `failed` (or `rejected`): the error's code, e.g. `store_unavailable`, `webhook_rejected`. */
  errorCode?: string | null;
  /** The error itself: only its message is logged, cut short. */
  error?: unknown;
  /** How long the handler took, when the caller measured it. */
  durationMs?: number;
};

const levels: Record<WebhookObservation['outcome'], LogLevel> = {
  applied: 'info',
  unchanged: 'debug',
  ignored: 'debug',
  rejected: 'warn',
  failed: 'error',
};

/** A processor we could not reach fails the delivery too, but that is weather, not a bug. */
const failureLevel = (errorCode: string | null | undefined): LogLevel =>
  errorCode === 'gateway_error' || errorCode === 'concurrency_conflict' ? 'warn' : 'error';

/** One counter per telemetry, created on its first delivery. */
const counters = new WeakMap<Telemetry, TelemetryCounter>();
const webhookCounter = (telemetry: Telemetry): TelemetryCounter => {
  let counter = counters.get(telemetry);
  if (counter === undefined) {
    counter = telemetry.counter(metricNames.webhooks, { description: 'Webhook deliveries by processor and outcome', unit: '{webhook}' });
    counters.set(telemetry, counter);
  }
  return counter;
};

/**
 * Records one webhook delivery: a log line (info when applied, debug when
 * unchanged or ignored, warn when rejected, error when it failed on our
 * side) and the `refund_lifecycle.webhooks` counter by processor, outcome and
 * reason. Never throws.
 */
export const recordWebhookOutcome = (
  sinks: { logger?: Logger | undefined; telemetry?: Telemetry | undefined },
  webhook: WebhookObservation,
): void => {
  const logger = sinks.logger ?? silentLogger;
  const telemetry = sinks.telemetry ?? noopTelemetry;
  const reason = webhook.reason ?? null;
  try {
    webhookCounter(telemetry).add(1, {
      [attributeNames.processor]: webhook.processor,
      [attributeNames.outcome]: webhook.outcome,
      ...(reason === null ? {} : { [attributeNames.webhookReason]: reason }),
    });
  } catch {
    // A failing exporter loses its point, never the delivery.
  }
  const level = webhook.outcome === 'failed' ? failureLevel(webhook.errorCode) : levels[webhook.outcome];
  const fields: LogFields = {
    event: 'refund_lifecycle.webhook',
    processor: webhook.processor,
    outcome: webhook.outcome,
    correlationId: webhook.correlationId,
    ...(webhook.eventId == null ? {} : { causationId: webhook.eventId, eventId: webhook.eventId }),
    ...(webhook.eventType == null ? {} : { eventType: webhook.eventType }),
    ...(reason === null ? {} : { reason }),
    ...(webhook.creditNoteIds === undefined || webhook.creditNoteIds.length === 0 ? {} : { creditNoteIds: webhook.creditNoteIds }),
    ...(webhook.creditNoteIds?.length === 1 ? { creditNoteId: webhook.creditNoteIds[0] } : {}),
    ...(webhook.errorCode == null ? {} : { errorCode: webhook.errorCode }),
    ...(webhook.error === undefined ? {} : { error: errorMessage(webhook.error) }),
    ...(webhook.durationMs === undefined ? {} : { durationMs: webhook.durationMs }),
  };
  try {
    logger[level](fields, `webhook ${webhook.processor} ${webhook.outcome}${reason === null ? '' : ` (${reason})`}`);
  } catch {
    // A throwing logger loses its line, never the delivery.
  }
};
