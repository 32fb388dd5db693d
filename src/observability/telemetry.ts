/*
 * The telemetry port: the little of tracing and metrics the library uses, so
 * the core never imports `@opentelemetry/api` (an optional peer). The
 * `refund-lifecycle/opentelemetry` entry implements it with the OpenTelemetry
 * API; a host on another vendor can implement it too.
 */

/** Span and metric attributes: scalars only, never a payload. */
export type TelemetryAttributes = Record<string, string | number | boolean>;

export type TelemetrySpanOptions = {
  /** `client` for calls to the payment processor; `internal` otherwise (the default). */
  kind?: 'internal' | 'client';
  attributes?: TelemetryAttributes;
  /**
   * The span this one is a child of: the command's or the side effect's. Without one, the
   * implementation picks its own (OpenTelemetry: the active context, e.g. the host's request span).
   */
  parent?: TelemetrySpan;
};

export type TelemetrySpanEnd = {
  /** `unset` (the default) for success and for a caller's mistake; `error` for a failure. */
  status?: 'unset' | 'ok' | 'error';
  /** With `error`: a short description, e.g. the error code. */
  message?: string;
  attributes?: TelemetryAttributes;
};

export interface TelemetrySpan {
  setAttributes(attributes: TelemetryAttributes): void;
  /** Called once. */
  end(result?: TelemetrySpanEnd): void;
}

export interface TelemetryCounter {
  add(value: number, attributes?: TelemetryAttributes): void;
}

export interface TelemetryHistogram {
  record(value: number, attributes?: TelemetryAttributes): void;
}

export type TelemetryInstrumentOptions = { description?: string; unit?: string };

export interface Telemetry {
  startSpan(name: string, options?: TelemetrySpanOptions): TelemetrySpan;
  /**
   * Optional: runs `work` with `span` active in the host's own tracing
   * context, so what the host's instrumentation records inside (the HTTP call
   * under a processor request, a query in a hook) becomes its child.
   */
  withSpan?<T>(span: TelemetrySpan, work: () => T): T;
  /** Instruments are asked for once per name, when the lifecycle is created. */
  counter(name: string, options?: TelemetryInstrumentOptions): TelemetryCounter;
  histogram(name: string, options?: TelemetryInstrumentOptions): TelemetryHistogram;
}

const noopSpan: TelemetrySpan = Object.freeze({ setAttributes: () => {}, end: () => {} });
const noopInstrument = Object.freeze({ add: () => {}, record: () => {} });

/** The default: records nothing. */
export const noopTelemetry: Telemetry = Object.freeze({
  startSpan: () => noopSpan,
  counter: () => noopInstrument,
  histogram: () => noopInstrument,
});
