import { AsyncLocalStorage } from 'node:async_hooks';
import {
  context,
  metrics,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type ContextManager,
  type Meter,
  type MeterProvider,
  type Span,
  type SpanOptions,
  type SpanStatus,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openTelemetry } from '../src/adapters/opentelemetry/index.js';
import { libraryVersion } from '../src/observability/version.js';
import type { Notifier } from '../src/ports/notifier.js';
import { buildFixture, issueInput, okValue } from './support/fixtures.js';

/*
 * `refund-lifecycle/opentelemetry` against the real `@opentelemetry/api`,
 * with a recording tracer and meter provider registered globally (no SDK):
 * the spans' parents as the API sees them through its context, their kinds
 * and statuses, and the instruments the meter is asked for.
 */

type RecordedSpan = {
  name: string;
  tracer: string;
  kind: SpanKind | undefined;
  parent: RecordedSpan | undefined;
  attributes: Attributes;
  status: SpanStatus | undefined;
  ended: number;
};

const recordingTracerProvider = () => {
  const spans: RecordedSpan[] = [];
  const tracers: Array<{ name: string; version: string | undefined }> = [];
  const records = new WeakMap<Span, RecordedSpan>();
  const tracerNamed = (tracerName: string): Tracer => {
    const startSpan = (name: string, options: SpanOptions = {}, parentContext: Context = context.active()): Span => {
      const parentSpan = trace.getSpan(parentContext);
      const record: RecordedSpan = {
        name,
        tracer: tracerName,
        kind: options.kind,
        parent: parentSpan === undefined ? undefined : records.get(parentSpan),
        attributes: { ...options.attributes },
        status: undefined,
        ended: 0,
      };
      spans.push(record);
      const spanContext = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: spans.length.toString(16).padStart(16, '0'), traceFlags: 1 };
      const span: Span = {
        spanContext: () => spanContext,
        setAttribute: (key, value) => ((record.attributes[key] = value), span),
        setAttributes: (attributes) => (Object.assign(record.attributes, attributes), span),
        addEvent: () => span,
        addLink: () => span,
        addLinks: () => span,
        setStatus: (status) => ((record.status = status), span),
        updateName: (updated) => ((record.name = updated), span),
        end: () => void (record.ended += 1),
        isRecording: () => true,
        recordException: () => {},
      };
      records.set(span, record);
      return span;
    };
    return {
      startSpan,
      startActiveSpan: (() => {
        throw new Error('not used by the library');
      }) as Tracer['startActiveSpan'],
    };
  };
  const provider: TracerProvider = {
    getTracer: (name, version) => {
      tracers.push({ name, version });
      return tracerNamed(name);
    },
  };
  return { provider, spans, tracers };
};

type Measure = { instrument: string; value: number; attributes: Attributes | undefined };

const recordingMeterProvider = () => {
  const meters: Array<{ name: string; version: string | undefined }> = [];
  const instruments: Array<{ type: string; name: string; unit: string | undefined }> = [];
  const measures: Measure[] = [];
  const meter = {
    createCounter: (name: string, options: { unit?: string } = {}) => {
      instruments.push({ type: 'counter', name, unit: options.unit });
      return { add: (value: number, attributes?: Attributes) => void measures.push({ instrument: name, value, attributes }) };
    },
    createHistogram: (name: string, options: { unit?: string } = {}) => {
      instruments.push({ type: 'histogram', name, unit: options.unit });
      return { record: (value: number, attributes?: Attributes) => void measures.push({ instrument: name, value, attributes }) };
    },
  } as unknown as Meter;
  const provider: MeterProvider = {
    getMeter: (name, version) => {
      meters.push({ name, version });
      return meter;
    },
  };
  return { provider, meters, instruments, measures };
};

/** What an SDK's AsyncLocalStorage context manager does: the active context follows the async flow. */
const asyncContextManager = (): ContextManager => {
  const storage = new AsyncLocalStorage<Context>();
  const manager: ContextManager = {
    active: () => storage.getStore() ?? ROOT_CONTEXT,
    with: (ctx, fn, thisArg, ...args) => storage.run(ctx, () => fn.call(thisArg, ...args)),
    bind: (_ctx, target) => target,
    enable: () => manager,
    disable: () => manager,
  };
  return manager;
};

let tracing: ReturnType<typeof recordingTracerProvider>;
let metering: ReturnType<typeof recordingMeterProvider>;

beforeEach(() => {
  tracing = recordingTracerProvider();
  metering = recordingMeterProvider();
  context.setGlobalContextManager(asyncContextManager());
  trace.setGlobalTracerProvider(tracing.provider);
  metrics.setGlobalMeterProvider(metering.provider);
});

afterEach(() => {
  trace.disable();
  metrics.disable();
  context.disable();
});

describe('openTelemetry()', () => {
  it("nests the lifecycle's spans under the host's request span, and the host's own spans under the side effect", async () => {
    const fx = buildFixture();
    const hostTracer = trace.getTracer('host-app');
    // The host's mailer is instrumented too: its span must land under the lifecycle's notify span.
    const notifier: Notifier = {
      send: async (notification) => {
        hostTracer.startSpan('smtp send').end();
        await fx.notifier.send(notification);
      },
    };
    const lifecycle = fx.lifecycleWith({ telemetry: openTelemetry(), notifier });
    expect(tracing.tracers).toContainEqual({ name: 'refund-lifecycle', version: libraryVersion });

    const request = hostTracer.startSpan('POST /credit-notes');
    okValue(await context.with(trace.setSpan(context.active(), request), () => lifecycle.issueCreditNote(issueInput())));
    request.end();

    const byName = (name: string) => tracing.spans.filter((span) => span.name === name);
    const [command] = byName('refund_lifecycle.command issueCreditNote');
    expect(command).toMatchObject({ tracer: 'refund-lifecycle', kind: SpanKind.INTERNAL, parent: byName('POST /credit-notes')[0], ended: 1 });
    expect(command!.attributes).toMatchObject({ 'refund_lifecycle.command': 'issueCreditNote', 'refund_lifecycle.credit_note_id': 'cn_1' });
    const [sideEffect] = byName('refund_lifecycle.side_effect create_refund');
    expect(sideEffect).toMatchObject({ parent: command, ended: 1 });
    const [create] = byName('refund_lifecycle.gateway createRefund');
    expect(create).toMatchObject({ kind: SpanKind.CLIENT, parent: sideEffect, ended: 1 });
    expect(create!.attributes).toMatchObject({ 'refund_lifecycle.gateway.operation': 'createRefund', 'refund_lifecycle.processor': 'fake' });
    for (const read of byName('refund_lifecycle.gateway describePayment')) expect(read.parent).toBe(command);

    // The refund succeeds; the webhook's observation sends the email inline.
    fx.gateway.setRefundStatus(fx.gateway.refunds()[0]!.processorRefundId, 'succeeded');
    for (const notice of fx.gateway.takeNotices()) {
      okValue(await lifecycle.observeRefund({ refund: notice.refund, source: 'webhook', causationId: notice.noticeId }));
    }
    const [notify] = byName('refund_lifecycle.side_effect notify');
    expect(notify!.parent?.name).toBe('refund_lifecycle.command observeRefund');
    expect(byName('smtp send')[0]!.parent).toBe(notify);
    for (const span of tracing.spans) expect(span.ended, span.name).toBe(1);
  });

  it('marks failed processor calls and refused side effects as errors, and leaves rejected commands unset', async () => {
    const fx = buildFixture();
    const lifecycle = fx.lifecycleWith({ telemetry: openTelemetry() });
    fx.gateway.queue({ kind: 'transient', code: 'rate_limit' });
    okValue(await lifecycle.issueCreditNote(issueInput()));
    await lifecycle.retryRefund('cn_unknown', { actor: { kind: 'user', id: 'u' } });

    const create = tracing.spans.find((span) => span.name === 'refund_lifecycle.gateway createRefund')!;
    expect(create.status).toEqual({ code: SpanStatusCode.ERROR, message: 'rate_limit' });
    expect(create.attributes['error.type']).toBe('rate_limit');
    const refused = tracing.spans.find((span) => span.name === 'refund_lifecycle.command retryRefund')!;
    expect(refused.status).toBeUndefined();
    expect(refused.attributes['error.type']).toBe('credit_note_not_found');
  });

  it('asks the global meter for its instruments at the first measurement, and records through them', async () => {
    const fx = buildFixture({ dispatchInline: false });
    const lifecycle = fx.lifecycleWith({ telemetry: openTelemetry() });
    expect(metering.meters).toEqual([]);
    okValue(await lifecycle.issueCreditNote(issueInput()));
    fx.clock.advance(250);
    okValue(await lifecycle.dispatch());

    expect(metering.meters).toEqual([{ name: 'refund-lifecycle', version: libraryVersion }]);
    expect(metering.instruments).toEqual(
      expect.arrayContaining([
        { type: 'counter', name: 'refund_lifecycle.commands', unit: '{command}' },
        { type: 'histogram', name: 'refund_lifecycle.gateway.latency', unit: 'ms' },
        { type: 'histogram', name: 'refund_lifecycle.outbox.lag', unit: 'ms' },
        { type: 'counter', name: 'refund_lifecycle.side_effects', unit: '{side_effect}' },
      ]),
    );
    // Each instrument created once, however many measurements.
    expect(new Set(metering.instruments.map((instrument) => instrument.name)).size).toBe(metering.instruments.length);
    expect(metering.measures).toContainEqual({
      instrument: 'refund_lifecycle.outbox.lag',
      value: 250,
      attributes: { 'refund_lifecycle.side_effect.kind': 'create_refund' },
    });
    expect(metering.measures).toContainEqual({
      instrument: 'refund_lifecycle.commands',
      value: 1,
      attributes: { 'refund_lifecycle.command': 'issueCreditNote', 'refund_lifecycle.outcome': 'ok' },
    });
  });

  it('with no SDK registered, everything is a no-op and the lifecycle works', async () => {
    trace.disable();
    metrics.disable();
    context.disable();
    const fx = buildFixture();
    const lifecycle = fx.lifecycleWith({ telemetry: openTelemetry() });
    expect(okValue(await lifecycle.issueCreditNote(issueInput())).status).toBe('requested');
    expect(tracing.spans).toEqual([]);
    expect(metering.measures).toEqual([]);
  });

  it('uses the tracer and meter it is given instead of the global ones', async () => {
    trace.disable();
    metrics.disable();
    const own = recordingTracerProvider();
    const ownMeter = recordingMeterProvider();
    const fx = buildFixture();
    const lifecycle = fx.lifecycleWith({
      telemetry: openTelemetry({ tracer: own.provider.getTracer('mine'), meter: ownMeter.provider.getMeter('mine') }),
    });
    okValue(await lifecycle.issueCreditNote(issueInput()));
    expect(own.spans.map((span) => span.name)).toContain('refund_lifecycle.command issueCreditNote');
    expect(ownMeter.measures.length).toBeGreaterThan(0);
    expect(tracing.spans).toEqual([]);
  });
});
