import type { Logger, LogLevel } from '../../src/observability/logger.js';
import type {
  Telemetry,
  TelemetryAttributes,
  TelemetrySpan,
  TelemetrySpanEnd,
  TelemetrySpanOptions,
} from '../../src/observability/telemetry.js';

export type LogLine = { level: LogLevel; fields: Record<string, unknown>; message: string | undefined };

/** A logger that keeps every line, in order; `child` binds fields the way pino does. */
export const recordingLogger = () => {
  const lines: LogLine[] = [];
  const make = (bindings: Record<string, unknown>): Logger => {
    const at =
      (level: LogLevel) =>
      (obj: object, msg?: string): void =>
        void lines.push({ level, fields: { ...bindings, ...structuredClone(obj as Record<string, unknown>) }, message: msg });
    return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (more) => make({ ...bindings, ...more }) };
  };
  const logger = make({});
  /** The lines of one kind: `command`, `side_effect`, `gateway`, `decision_conflict`, `webhook`. */
  const of = (event: string) => lines.filter((line) => line.fields.event === `refund_lifecycle.${event}`);
  return { logger, lines, of };
};

export type RecordedSpan = {
  id: number;
  name: string;
  kind: 'internal' | 'client';
  parent: RecordedSpan | null;
  attributes: TelemetryAttributes;
  ended: TelemetrySpanEnd | null;
};

export type RecordedMeasure = { instrument: string; type: 'counter' | 'histogram'; value: number; attributes: TelemetryAttributes };

/** A telemetry that keeps every span and measure; `withSpan` is tracked so a test can see what ran inside. */
export const recordingTelemetry = () => {
  const spans: RecordedSpan[] = [];
  const measures: RecordedMeasure[] = [];
  const instruments: Array<{ name: string; type: 'counter' | 'histogram'; unit: string | undefined }> = [];
  const byHandle = new WeakMap<TelemetrySpan, RecordedSpan>();
  const active: RecordedSpan[] = [];
  const telemetry: Telemetry = {
    startSpan: (name: string, options: TelemetrySpanOptions = {}) => {
      const recorded: RecordedSpan = {
        id: spans.length + 1,
        name,
        kind: options.kind ?? 'internal',
        parent: options.parent === undefined ? null : (byHandle.get(options.parent) ?? null),
        attributes: { ...options.attributes },
        ended: null,
      };
      spans.push(recorded);
      const handle: TelemetrySpan = {
        setAttributes: (attributes) => Object.assign(recorded.attributes, attributes),
        end: (result = {}) => {
          if (recorded.ended !== null) throw new Error(`span ${name} ended twice`);
          Object.assign(recorded.attributes, result.attributes);
          recorded.ended = result;
        },
      };
      byHandle.set(handle, recorded);
      return handle;
    },
    withSpan: (handle, work) => {
      const recorded = byHandle.get(handle);
      if (recorded !== undefined) active.push(recorded);
      try {
        return work();
      } finally {
        if (recorded !== undefined) active.pop();
      }
    },
    counter: (name, options = {}) => {
      instruments.push({ name, type: 'counter', unit: options.unit });
      return { add: (value, attributes = {}) => void measures.push({ instrument: name, type: 'counter', value, attributes }) };
    },
    histogram: (name, options = {}) => {
      instruments.push({ name, type: 'histogram', unit: options.unit });
      return { record: (value, attributes = {}) => void measures.push({ instrument: name, type: 'histogram', value, attributes }) };
    },
  };
  const named = (prefix: string) => spans.filter((span) => span.name.startsWith(prefix));
  const measured = (instrument: string) => measures.filter((measure) => measure.instrument === instrument);
  return { telemetry, spans, measures, instruments, named, measured };
};
