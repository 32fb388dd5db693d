// refund-lifecycle/opentelemetry: spans and metrics through the OpenTelemetry API (`@opentelemetry/api`, an optional peer).
import {
  context,
  metrics,
  SpanKind,
  SpanStatusCode,
  trace,
  type Counter,
  type Histogram,
  type Meter,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import type {
  Telemetry,
  TelemetryAttributes,
  TelemetryCounter,
  TelemetryHistogram,
  TelemetryInstrumentOptions,
  TelemetrySpan,
} from '../../observability/telemetry.js';
import { instrumentationName, libraryVersion } from '../../observability/version.js';

export type OpenTelemetryOptions = {
  /** Default: `trace.getTracer('refund-lifecycle', version)` from the globally registered provider. */
  tracer?: Tracer;
  /** Default: `metrics.getMeter('refund-lifecycle', version)` from the globally registered provider. */
  meter?: Meter;
};

/** The OpenTelemetry span behind each span handed to the lifecycle, so a child can name its parent. */
const spans = new WeakMap<TelemetrySpan, Span>();

const wrap = (span: Span): TelemetrySpan => {
  const handle: TelemetrySpan = {
    setAttributes: (attributes: TelemetryAttributes) => void span.setAttributes(attributes),
    end: (result = {}) => {
      if (result.attributes !== undefined) span.setAttributes(result.attributes);
      if (result.status === 'error') {
        span.setStatus({ code: SpanStatusCode.ERROR, ...(result.message === undefined ? {} : { message: result.message }) });
      } else if (result.status === 'ok') span.setStatus({ code: SpanStatusCode.OK });
      span.end();
    },
  };
  spans.set(handle, span);
  return handle;
};

/**
 * The lifecycle's telemetry over the OpenTelemetry API:
 * `createRefundLifecycle({ …, telemetry: openTelemetry() })`.
 *
 * Spans: `refund_lifecycle.command <name>` per command, `refund_lifecycle.side_effect <kind>` per outbox entry
 * performed, `refund_lifecycle.gateway <operation>` (kind client) per processor call, each a child of the
 * command or side effect it ran in, the first of them a child of the active context (the host's request span).
 * Metrics: `refund_lifecycle.commands`, `.command.duration`, `.side_effects`, `.outbox.lag`, `.gateway.latency`,
 * `.webhooks`; durations in milliseconds.
 *
 * With no SDK registered the API records nothing, at almost no cost. The tracer follows a provider registered
 * later; the meter is asked for at the first measurement, so register the SDK before the first command.
 */
export const openTelemetry = (options: OpenTelemetryOptions = {}): Telemetry => {
  const tracer = options.tracer ?? trace.getTracer(instrumentationName, libraryVersion);
  let meter = options.meter;
  const meterNow = (): Meter => (meter ??= metrics.getMeter(instrumentationName, libraryVersion));
  const instrumentOptions = (options: TelemetryInstrumentOptions = {}) => ({
    ...(options.description === undefined ? {} : { description: options.description }),
    ...(options.unit === undefined ? {} : { unit: options.unit }),
  });

  return {
    startSpan: (name, spanOptions = {}) => {
      const parent = spanOptions.parent === undefined ? undefined : spans.get(spanOptions.parent);
      const parentContext = parent === undefined ? context.active() : trace.setSpan(context.active(), parent);
      const span = tracer.startSpan(
        name,
        {
          kind: spanOptions.kind === 'client' ? SpanKind.CLIENT : SpanKind.INTERNAL,
          ...(spanOptions.attributes === undefined ? {} : { attributes: spanOptions.attributes }),
        },
        parentContext,
      );
      return wrap(span);
    },
    withSpan: (handle, work) => {
      const span = spans.get(handle);
      return span === undefined ? work() : context.with(trace.setSpan(context.active(), span), work);
    },
    counter: (name, counterOptions): TelemetryCounter => {
      let counter: Counter | undefined;
      return { add: (value, attributes) => (counter ??= meterNow().createCounter(name, instrumentOptions(counterOptions))).add(value, attributes) };
    },
    histogram: (name, histogramOptions): TelemetryHistogram => {
      let histogram: Histogram | undefined;
      return {
        record: (value, attributes) =>
          (histogram ??= meterNow().createHistogram(name, instrumentOptions(histogramOptions))).record(value, attributes),
      };
    },
  };
};
