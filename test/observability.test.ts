import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RefundLifecycle, RefundLifecycleConfig } from '../src/lifecycle/createRefundLifecycle.js';
import { silentLogger, type Logger } from '../src/observability/logger.js';
import { createObserver, metricNames } from '../src/observability/observer.js';
import { noopTelemetry } from '../src/observability/telemetry.js';
import { libraryVersion } from '../src/observability/version.js';
import { recordWebhookOutcome } from '../src/observability/webhooks.js';
import { actor, buildFixture, errValue, issueInput, okValue, type Fixture, type FixtureOptions } from './support/fixtures.js';
import { recordingLogger, recordingTelemetry, type LogLine } from './support/observability.js';

/*
 * Structured logs and telemetry: every line of a command, a side effect or a
 * processor call carries the correlation id the events of the same work
 * carry; spans nest command → side effect → processor call; nothing is
 * written by default, and no payload ever reaches a line.
 */

const REASON = 'Workshop cancelled, the client asked twice';

const observed = (options: FixtureOptions = {}, config: Partial<RefundLifecycleConfig> = {}) => {
  const fx = buildFixture(options);
  const log = recordingLogger();
  const tel = recordingTelemetry();
  const lifecycle = fx.lifecycleWith({ logger: log.logger, telemetry: tel.telemetry, ...config });
  return { fx, log, tel, lifecycle };
};

/** Delivers the fake's webhook notices through `lifecycle`, each with its notice id as causation. */
const deliver = async (fx: Fixture, lifecycle: RefundLifecycle) => {
  const notices = fx.gateway.takeNotices();
  for (const notice of notices) {
    okValue(await lifecycle.observeRefund({ refund: notice.refund, source: 'webhook', causationId: notice.noticeId }));
  }
  return notices;
};

const correlationIdsOfEvents = async (fx: Fixture, creditNoteId: string) =>
  (await fx.store.readStream(`credit-note-${creditNoteId}`)).events.map((event) => ({
    type: event.type,
    correlationId: event.correlationId,
    causationId: event.causationId,
  }));

const expectEveryLineCorrelated = (lines: readonly LogLine[]) => {
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) expect(line.fields, `${line.message}`).toHaveProperty('correlationId', expect.any(String));
};

afterEach(() => {
  vi.restoreAllMocks();
});

describe('silent by default', () => {
  it('a lifecycle without a logger or telemetry writes nothing anywhere', async () => {
    const writes = (['log', 'info', 'warn', 'error', 'debug', 'trace'] as const).map((method) => vi.spyOn(console, method));
    const fx = buildFixture();
    fx.notifier.failNext(1, 'smtp 421');
    okValue(await fx.lifecycle.issueCreditNote(issueInput()));
    fx.gateway.setRefundStatus(fx.gateway.refunds()[0]!.processorRefundId, 'succeeded');
    await fx.deliver(fx.gateway.takeNotices());
    errValue(await fx.lifecycle.retryRefund('cn_unknown', { actor }));
    for (const write of writes) expect(write).not.toHaveBeenCalled();
  });

  it('the observer is off, and costs nothing, unless a logger or a telemetry is given', () => {
    expect(createObserver({}).enabled).toBe(false);
    expect(createObserver({ logger: silentLogger, telemetry: noopTelemetry }).enabled).toBe(false);
    expect(createObserver({ logger: recordingLogger().logger }).enabled).toBe(true);
    expect(createObserver({ telemetry: recordingTelemetry().telemetry }).enabled).toBe(true);
  });
});

describe('command lines', () => {
  it('an issue: the command, its processor reads and its refund request, each with the correlation id of the events', async () => {
    const { fx, log, lifecycle } = observed();
    const view = okValue(await lifecycle.issueCreditNote(issueInput({ reason: REASON })));
    expect(view.status).toBe('requested');
    expectEveryLineCorrelated(log.lines);

    const [command] = log.of('command');
    expect(log.of('command')).toHaveLength(1);
    expect(command).toMatchObject({
      level: 'info',
      message: 'command issueCreditNote ok',
      fields: { command: 'issueCreditNote', outcome: 'ok', creditNoteId: 'cn_1', status: 'requested', durationMs: expect.any(Number) },
    });
    expect(command!.fields).not.toHaveProperty('causationId');

    // The issue's own events carry the command's correlation id; the refund request's answer carries its outbox entry's.
    const events = await correlationIdsOfEvents(fx, 'cn_1');
    const issued = events.find((event) => event.type === 'CreditNoteIssued')!;
    expect(issued.correlationId).toBe(command!.fields.correlationId);

    // The processor reads made while deciding are the command's.
    const reads = log.of('gateway').filter((line) => line.fields.operation !== 'createRefund');
    expect(reads.map((line) => line.fields.operation)).toEqual(expect.arrayContaining(['describePayment']));
    for (const read of reads) {
      expect(read.fields).toMatchObject({ correlationId: command!.fields.correlationId, processor: 'fake', outcome: 'ok', paymentId: 'pi_1' });
      expect(read.level).toBe('debug');
      expect(read.fields.latencyMs).toEqual(expect.any(Number));
    }

    // The refund request is a side effect: its correlation and causation are its outbox entry, as on the events it records.
    const [sideEffect] = log.of('side_effect');
    expect(sideEffect).toMatchObject({
      level: 'info',
      fields: { kind: 'create_refund', result: 'done', attempt: 1, refundAttempt: 1, creditNoteId: 'cn_1', refundStatus: 'pending' },
    });
    const entryId = sideEffect!.fields.entryId as string;
    expect(sideEffect!.fields).toMatchObject({ correlationId: entryId, causationId: entryId, idempotencyKey: 'cn_1:refund:1' });
    const create = log.of('gateway').find((line) => line.fields.operation === 'createRefund')!;
    expect(create.fields).toMatchObject({ correlationId: entryId, causationId: entryId, creditNoteId: 'cn_1', idempotencyKey: 'cn_1:refund:1' });
    const recorded = events.find((event) => event.type === 'RefundAccepted' || event.type === 'RefundProgressed')!;
    expect(recorded).toMatchObject({ correlationId: entryId, causationId: entryId });

    // The command's line comes last: its duration includes the side effects it performed inline.
    expect(log.lines.at(-1)).toBe(command);
  });

  it('an observation carries the webhook event id as causation; the side effects it made due carry their entries', async () => {
    const { fx, log, lifecycle } = observed();
    okValue(await lifecycle.issueCreditNote(issueInput({ reason: REASON })));
    fx.gateway.setRefundStatus(fx.gateway.refunds()[0]!.processorRefundId, 'succeeded');
    log.lines.length = 0;
    const notices = await deliver(fx, lifecycle);
    expectEveryLineCorrelated(log.lines);

    // One line per delivery, each with its notice id as causation; the one that settled the refund is info.
    const observations = log.of('command');
    expect(observations.map((line) => line.fields.causationId)).toEqual(notices.map((notice) => notice.noticeId));
    const observation = observations.find((line) => line.fields.changed === true)!;
    const notice = notices[observations.indexOf(observation)];
    expect(observation).toMatchObject({
      level: 'info',
      fields: { command: 'observeRefund', outcome: 'ok', causationId: notice!.noticeId, creditNoteId: 'cn_1', status: 'succeeded', changed: true },
    });
    // The email and the hook it made due: each with its entry as correlation and causation.
    const sideEffects = log.of('side_effect');
    expect(sideEffects.map((line) => [line.fields.kind, line.fields.result])).toEqual(
      expect.arrayContaining([
        ['notify', 'done'],
        ['run_hook', 'done'],
      ]),
    );
    for (const line of sideEffects) {
      expect(line.fields.causationId).toBe(line.fields.entryId);
      expect(line.fields.correlationId).toBe(line.fields.entryId);
      expect(line.fields.creditNoteId).toBe('cn_1');
    }
    expect(sideEffects.find((line) => line.fields.kind === 'notify')!.fields).toMatchObject({ notification: 'refund_completed', recipient: 'client' });
    expect(sideEffects.find((line) => line.fields.kind === 'run_hook')!.fields).toMatchObject({ hook: 'refundSucceeded' });

    // A redelivery changes nothing: a debug line.
    log.lines.length = 0;
    okValue(await lifecycle.observeRefund({ refund: notice!.refund, source: 'webhook', causationId: notice!.noticeId }));
    expect(log.of('command')[0]).toMatchObject({ level: 'debug', fields: { changed: false, causationId: notice!.noticeId } });
  });

  it("a caller's correlation id is the one every line and event carries", async () => {
    const { fx, log, lifecycle } = observed({ dispatchInline: false });
    okValue(await lifecycle.issueCreditNote(issueInput({ correlationId: 'req-42' })));
    expect(log.of('command')[0]!.fields.correlationId).toBe('req-42');
    for (const line of log.of('gateway')) expect(line.fields.correlationId).toBe('req-42');
    expect((await correlationIdsOfEvents(fx, 'cn_1')).every((event) => event.correlationId === 'req-42')).toBe(true);
  });

  it('a refresh: the processor read carries the correlation id its events carry', async () => {
    const { fx, log, lifecycle } = observed();
    okValue(await lifecycle.issueCreditNote(issueInput()));
    fx.gateway.setRefundStatus(fx.gateway.refunds()[0]!.processorRefundId, 'succeeded');
    fx.gateway.takeNotices();
    log.lines.length = 0;
    const refreshed = okValue(await lifecycle.refreshStatus('cn_1', { actor }));
    expect(refreshed.changed).toBe(true);
    const command = log.of('command')[0]!;
    const read = log.of('gateway').find((line) => line.fields.operation === 'retrieveRefund')!;
    expect(read.fields).toMatchObject({ correlationId: command.fields.correlationId, creditNoteId: 'cn_1' });
    const events = await correlationIdsOfEvents(fx, 'cn_1');
    expect(events.find((event) => event.type === 'RefundSucceeded')!.correlationId).toBe(command.fields.correlationId);
  });

  it('a charge confirmation names its payment and the credit notes it released', async () => {
    const { log, lifecycle } = observed();
    okValue(await lifecycle.issueCreditNote(issueInput({ chargeConfirmed: false })));
    okValue(await lifecycle.confirmCharge({ paymentId: 'pi_1', causationId: 'evt_pi_1_succeeded' }));
    expect(log.of('command').at(-1)).toMatchObject({
      level: 'info',
      fields: { command: 'confirmCharge', outcome: 'ok', paymentId: 'pi_1', creditNoteIds: ['cn_1'], causationId: 'evt_pi_1_succeeded', changed: true },
    });
    expectEveryLineCorrelated(log.lines);
  });

  it('rejections are warnings with their code', async () => {
    const { log, lifecycle } = observed();
    errValue(await lifecycle.retryRefund('cn_unknown', { actor }));
    errValue(await lifecycle.issueCreditNote({ ...issueInput(), amount: -1 }));
    expect(log.of('command').map((line) => [line.level, line.fields.command, line.fields.outcome, line.fields.creditNoteId])).toEqual([
      ['warn', 'retryRefund', 'credit_note_not_found', 'cn_unknown'],
      ['warn', 'issueCreditNote', 'validation_failed', 'cn_1'],
    ]);
    expectEveryLineCorrelated(log.lines);
  });

  it('a store failure is an error line', async () => {
    const fx = buildFixture();
    const log = recordingLogger();
    let down = false;
    const store = {
      ...fx.store,
      readStream: async (...args: Parameters<typeof fx.store.readStream>) => {
        if (down) throw new Error('connection refused');
        return fx.store.readStream(...args);
      },
    };
    const lifecycle = fx.lifecycleWith({ store, logger: log.logger });
    okValue(await lifecycle.issueCreditNote(issueInput()));
    down = true;
    expect(errValue(await lifecycle.retryRefund('cn_1', { actor })).code).toBe('store_unavailable');
    expect(log.of('command').at(-1)).toMatchObject({
      level: 'error',
      fields: { command: 'retryRefund', outcome: 'store_unavailable', creditNoteId: 'cn_1', error: expect.stringContaining('connection refused') },
    });
    // Reads are not commands: no line.
    errValue(await lifecycle.getCreditNote('cn_1'));
    expect(log.of('command')).toHaveLength(2);
  });

  it('a lost write race is a debug line of the command that lost it, which decides again', async () => {
    const { fx, log, lifecycle } = observed();
    fx.gateway.queue({ kind: 'reject', code: 'charge_disputed' });
    okValue(await lifecycle.issueCreditNote(issueInput()));
    log.lines.length = 0;
    // Two clicks on Retry at once: both read the failed credit note, one appends first.
    const answers = await Promise.all([lifecycle.retryRefund('cn_1', { actor }), lifecycle.retryRefund('cn_1', { actor })]);
    expect(answers.filter((answer) => answer.isOk())).toHaveLength(1);
    const [conflict] = log.of('decision_conflict');
    expect(conflict).toMatchObject({ level: 'debug', fields: { streamId: 'credit-note-cn_1', decision: 1 } });
    const loser = log.of('command').find((line) => line.fields.outcome === 'transition_not_allowed')!;
    expect(conflict!.fields.correlationId).toBe(loser.fields.correlationId);
    expectEveryLineCorrelated(log.lines);
  });

  it('a sweep is observed as one run: its processor calls carry its correlation id', async () => {
    const { fx, log, lifecycle } = observed();
    const sweeping = fx.lifecycleWith({ logger: log.logger, sleep: fx.clock.sleep });
    okValue(await lifecycle.issueCreditNote(issueInput()));
    fx.clock.advance(20 * 60_000);
    log.lines.length = 0;
    okValue(await sweeping.sweep({ olderThanMs: 15 * 60_000 }));
    const [run] = log.of('command');
    expect(run).toMatchObject({ level: 'info', fields: { command: 'sweep', outcome: 'ok' } });
    expect(log.of('gateway').length).toBeGreaterThan(0);
    for (const call of log.of('gateway')) expect(call.fields.correlationId).toBe(run!.fields.correlationId);
    expectEveryLineCorrelated(log.lines);
  });

  it('a logger that throws loses its line, never the command', async () => {
    const throwing: Logger = {
      debug: () => {
        throw new Error('disk full');
      },
      info: () => {
        throw new Error('disk full');
      },
      warn: () => {
        throw new Error('disk full');
      },
      error: () => {
        throw new Error('disk full');
      },
    };
    const fx = buildFixture();
    const lifecycle = fx.lifecycleWith({ logger: throwing });
    expect(okValue(await lifecycle.issueCreditNote(issueInput())).status).toBe('requested');
    expect(errValue(await lifecycle.retryRefund('cn_unknown', { actor })).code).toBe('credit_note_not_found');
  });
});

describe('side effect lines', () => {
  it('a notifier failure logs its message as a retry, never the notification', async () => {
    const { fx, log, lifecycle } = observed();
    okValue(await lifecycle.issueCreditNote(issueInput({ reason: REASON })));
    fx.gateway.setRefundStatus(fx.gateway.refunds()[0]!.processorRefundId, 'succeeded');
    fx.notifier.failNext(1, 'smtp 421: try again later');
    await deliver(fx, lifecycle);

    const notify = log.of('side_effect').find((line) => line.fields.kind === 'notify')!;
    expect(notify).toMatchObject({
      level: 'warn',
      fields: { result: 'retried', attempt: 1, error: 'smtp 421: try again later', creditNoteId: 'cn_1' },
    });
    expect(notify.fields.causationId).toBe(notify.fields.entryId);
    expectEveryLineCorrelated(log.lines);

    // What the notifier was sent (the credit note, its reason, what was decided) reaches no line.
    expect(fx.notifier.calls.length).toBeGreaterThan(0);
    const written = JSON.stringify(log.lines);
    expect(written).not.toContain(REASON);
    for (const line of log.lines) {
      for (const key of ['payload', 'decided', 'creditNote', 'refund', 'notification_payload', 'metadata', 'amount', 'reason']) {
        expect(line.fields, `${line.message} has ${key}`).not.toHaveProperty(key);
      }
    }

    // The next round delivers it: done, second delivery, lag measured from its backoff.
    fx.clock.advance(60_000);
    log.lines.length = 0;
    okValue(await lifecycle.dispatch());
    expect(log.of('side_effect')).toMatchObject([{ level: 'info', fields: { kind: 'notify', result: 'done', attempt: 2 } }]);
    expect(log.of('side_effect')[0]!.fields.lagMs).toBeGreaterThan(0);
  });

  it('a transient processor error: a warning from the gateway, and the attempt in doubt with its retry time', async () => {
    const { fx, log, lifecycle } = observed({ retryPolicy: { maxAutomaticRefundRetries: 1, backoffBaseMs: 1_000 } });
    fx.gateway.queue({ kind: 'transient', code: 'rate_limit' }, { kind: 'transient', code: 'rate_limit' });
    okValue(await lifecycle.issueCreditNote(issueInput()));
    const create = log.of('gateway').find((line) => line.fields.operation === 'createRefund')!;
    expect(create).toMatchObject({ level: 'warn', fields: { outcome: 'error', errorKind: 'transient', errorCode: 'rate_limit' } });
    expect(log.of('side_effect')[0]).toMatchObject({
      level: 'warn',
      fields: { kind: 'create_refund', result: 'done', refundStatus: 'in_doubt', errorCode: 'rate_limit', retryAt: expect.any(String) },
    });

    // The automatic retries spent, the attempt waits for a person: an error line.
    fx.clock.advance(60_000);
    log.lines.length = 0;
    okValue(await lifecycle.dispatch());
    expect(log.of('side_effect')[0]).toMatchObject({ level: 'error', fields: { refundStatus: 'in_doubt', retryAt: null } });
    expectEveryLineCorrelated(log.lines);
  });

  it('a definitive refusal: the gateway and the side effect warn with the processor code', async () => {
    const { fx, log, lifecycle } = observed();
    fx.gateway.queue({ kind: 'reject', code: 'charge_disputed' });
    okValue(await lifecycle.issueCreditNote(issueInput()));
    expect(log.of('gateway').find((line) => line.fields.operation === 'createRefund')).toMatchObject({
      level: 'warn',
      fields: { errorKind: 'definitive', errorCode: 'charge_disputed' },
    });
    expect(log.of('side_effect')[0]).toMatchObject({ level: 'warn', fields: { refundStatus: 'failed', errorCode: 'charge_disputed' } });
  });

  it('a side effect given up on is parked: an error line', async () => {
    const { fx, log, lifecycle } = observed({ retryPolicy: { maxSideEffectDeliveries: 1 } });
    okValue(await lifecycle.issueCreditNote(issueInput()));
    fx.gateway.setRefundStatus(fx.gateway.refunds()[0]!.processorRefundId, 'succeeded');
    fx.notifier.failNext(1, 'mailbox unavailable');
    await deliver(fx, lifecycle);
    expect(log.of('side_effect').find((line) => line.fields.kind === 'notify')).toMatchObject({
      level: 'error',
      fields: { result: 'parked', error: 'mailbox unavailable' },
    });
  });
});

describe('telemetry', () => {
  it('spans nest command → side effect → processor call, each ended once, with its status', async () => {
    const { fx, tel, lifecycle } = observed();
    fx.gateway.queue({ kind: 'transient', code: 'rate_limit' });
    okValue(await lifecycle.issueCreditNote(issueInput()));

    const [command] = tel.named('refund_lifecycle.command ');
    expect(command).toMatchObject({ name: 'refund_lifecycle.command issueCreditNote', parent: null, ended: { status: 'unset' } });
    expect(command!.attributes).toMatchObject({
      'refund_lifecycle.command': 'issueCreditNote',
      'refund_lifecycle.credit_note_id': 'cn_1',
      'refund_lifecycle.correlation_id': expect.any(String),
    });
    const [sideEffect] = tel.named('refund_lifecycle.side_effect ');
    expect(sideEffect).toMatchObject({ name: 'refund_lifecycle.side_effect create_refund', parent: command });
    expect(sideEffect!.attributes).toMatchObject({ 'refund_lifecycle.outbox.attempt': 1, 'refund_lifecycle.side_effect.result': 'done' });

    const calls = tel.named('refund_lifecycle.gateway ');
    const create = calls.find((span) => span.name === 'refund_lifecycle.gateway createRefund')!;
    expect(create).toMatchObject({ kind: 'client', parent: sideEffect, ended: { status: 'error', message: 'rate_limit' } });
    expect(create.attributes).toMatchObject({ 'refund_lifecycle.processor': 'fake', 'error.type': 'rate_limit' });
    for (const read of calls.filter((span) => span !== create)) expect(read.parent).toBe(command);

    for (const span of tel.spans) expect(span.ended, span.name).not.toBeNull();
  });

  it('metrics: commands by name and outcome, side effects by kind and result, processor latency, outbox lag', async () => {
    const { fx, tel, lifecycle } = observed({ dispatchInline: false });
    okValue(await lifecycle.issueCreditNote(issueInput()));
    errValue(await lifecycle.retryRefund('cn_unknown', { actor }));
    fx.clock.advance(1_500);
    okValue(await lifecycle.dispatch());

    expect(new Set(tel.instruments.map((instrument) => `${instrument.type} ${instrument.name} ${instrument.unit}`))).toEqual(
      new Set([
        `counter ${metricNames.commands} {command}`,
        `histogram ${metricNames.commandDuration} ms`,
        `counter ${metricNames.sideEffects} {side_effect}`,
        `histogram ${metricNames.outboxLag} ms`,
        `histogram ${metricNames.gatewayLatency} ms`,
      ]),
    );
    expect(tel.measured(metricNames.commands).map((measure) => [measure.value, measure.attributes])).toEqual([
      [1, { 'refund_lifecycle.command': 'issueCreditNote', 'refund_lifecycle.outcome': 'ok' }],
      [1, { 'refund_lifecycle.command': 'retryRefund', 'refund_lifecycle.outcome': 'credit_note_not_found' }],
    ]);
    expect(tel.measured(metricNames.sideEffects).map((measure) => measure.attributes)).toEqual([
      { 'refund_lifecycle.side_effect.kind': 'create_refund', 'refund_lifecycle.side_effect.result': 'done' },
    ]);
    // Dispatched 1.5 s after it became due, on the lifecycle's clock.
    expect(tel.measured(metricNames.outboxLag).map((measure) => [measure.value, measure.attributes])).toEqual([
      [1_500, { 'refund_lifecycle.side_effect.kind': 'create_refund' }],
    ]);
    const latency = tel.measured(metricNames.gatewayLatency);
    expect(latency.map((measure) => measure.attributes)).toContainEqual({
      'refund_lifecycle.gateway.operation': 'createRefund',
      'refund_lifecycle.processor': 'fake',
      'refund_lifecycle.outcome': 'ok',
    });
    for (const measure of [...latency, ...tel.measured(metricNames.commandDuration)]) expect(measure.value).toBeGreaterThanOrEqual(0);
    // Metric attributes never carry ids: bounded cardinality.
    for (const measure of tel.measures) {
      for (const key of Object.keys(measure.attributes)) expect(key).not.toMatch(/_id$/);
    }
  });
});

describe('webhooks', () => {
  it('recordWebhookOutcome writes one line and counts the delivery by processor, outcome and reason', () => {
    const log = recordingLogger();
    const tel = recordingTelemetry();
    const sinks = { logger: log.logger, telemetry: tel.telemetry };
    recordWebhookOutcome(sinks, { processor: 'stripe', outcome: 'applied', correlationId: 'evt_1', eventId: 'evt_1', eventType: 'refund.updated', creditNoteIds: ['cn_1'], durationMs: 3 });
    recordWebhookOutcome(sinks, { processor: 'stripe', outcome: 'ignored', reason: 'unhandled_event_type', correlationId: 'evt_2', eventId: 'evt_2' });
    recordWebhookOutcome(sinks, { processor: 'stripe', outcome: 'rejected', reason: 'signature_invalid', correlationId: 'req_3', eventId: null, errorCode: 'webhook_rejected' });
    recordWebhookOutcome(sinks, { processor: 'stripe', outcome: 'failed', correlationId: 'evt_4', eventId: 'evt_4', errorCode: 'store_unavailable', error: new Error('connection refused') });

    expect(log.lines.map((line) => [line.level, line.message])).toEqual([
      ['info', 'webhook stripe applied'],
      ['debug', 'webhook stripe ignored (unhandled_event_type)'],
      ['warn', 'webhook stripe rejected (signature_invalid)'],
      ['error', 'webhook stripe failed'],
    ]);
    expect(log.lines[0]!.fields).toMatchObject({ correlationId: 'evt_1', causationId: 'evt_1', creditNoteId: 'cn_1', eventType: 'refund.updated' });
    expect(log.lines[2]!.fields).not.toHaveProperty('causationId');
    expect(log.lines[3]!.fields).toMatchObject({ errorCode: 'store_unavailable', error: 'connection refused' });
    expectEveryLineCorrelated(log.lines);
    // One counter, asked for once.
    expect(tel.instruments).toEqual([{ name: metricNames.webhooks, type: 'counter', unit: '{webhook}' }]);
    expect(tel.measured(metricNames.webhooks).map((measure) => measure.attributes)).toEqual([
      { 'refund_lifecycle.processor': 'stripe', 'refund_lifecycle.outcome': 'applied' },
      { 'refund_lifecycle.processor': 'stripe', 'refund_lifecycle.outcome': 'ignored', 'refund_lifecycle.webhook.reason': 'unhandled_event_type' },
      { 'refund_lifecycle.processor': 'stripe', 'refund_lifecycle.outcome': 'rejected', 'refund_lifecycle.webhook.reason': 'signature_invalid' },
      { 'refund_lifecycle.processor': 'stripe', 'refund_lifecycle.outcome': 'failed' },
    ]);
  });
});

it('the version reported to tracers and meters is the package version', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  expect(libraryVersion).toBe(pkg.version);
});
