import { AsyncLocalStorage } from 'node:async_hooks';
import { ResultAsync, type Result } from 'neverthrow';
import type { GatewayError } from '../errors.js';
import { systemClock, type Clock } from '../ports/notifier.js';
import { silentLogger, type Logger, type LogLevel } from './logger.js';
import {
  noopTelemetry,
  type Telemetry,
  type TelemetryAttributes,
  type TelemetryCounter,
  type TelemetryHistogram,
  type TelemetrySpan,
  type TelemetrySpanEnd,
  type TelemetrySpanOptions,
} from './telemetry.js';

/*
 * Logs, spans and metrics of commands, side effects and processor calls.
 * Internal: the lifecycle wires it from `config.logger` and
 * `config.telemetry`; with neither, it is switched off and costs nothing.
 *
 * Every line carries the correlation id the events of the same work carry
 * (a command's, or for a side effect its outbox entry id, which the
 * dispatcher writes as the correlation and causation of what it records),
 * the causation id where there is one, and the credit note id once known.
 * Lines hold ids, codes, statuses and durations: never a payload.
 */

/** What ties a log line, a span and the events the same work wrote together. */
export type Correlation = {
  correlationId: string;
  /** What caused the work: a webhook event id, the outbox entry being performed. */
  causationId: string | null;
  creditNoteId: string | null;
  /** The refund request a request command addresses. */
  requestId?: string | null;
};

type Scope = Correlation & { span: TelemetrySpan };

/** Shared by every lifecycle of the process: a command of one run from a hook of another nests under it. */
const scopes = new AsyncLocalStorage<Scope>();

/** The command or side effect running now, if any. */
export const currentScope = (): Scope | undefined => scopes.getStore();

export type LogFields = Record<string, string | number | boolean | null | undefined | readonly string[]>;

/** Metric names, all under `refund_lifecycle.`. */
export const metricNames = {
  commands: 'refund_lifecycle.commands',
  commandDuration: 'refund_lifecycle.command.duration',
  sideEffects: 'refund_lifecycle.side_effects',
  outboxLag: 'refund_lifecycle.outbox.lag',
  gatewayLatency: 'refund_lifecycle.gateway.latency',
  webhooks: 'refund_lifecycle.webhooks',
} as const;

/** Span and metric attribute keys. */
export const attributeNames = {
  command: 'refund_lifecycle.command',
  outcome: 'refund_lifecycle.outcome',
  sideEffectKind: 'refund_lifecycle.side_effect.kind',
  sideEffectResult: 'refund_lifecycle.side_effect.result',
  gatewayOperation: 'refund_lifecycle.gateway.operation',
  processor: 'refund_lifecycle.processor',
  webhookReason: 'refund_lifecycle.webhook.reason',
  correlationId: 'refund_lifecycle.correlation_id',
  causationId: 'refund_lifecycle.causation_id',
  creditNoteId: 'refund_lifecycle.credit_note_id',
  outboxEntryId: 'refund_lifecycle.outbox.entry_id',
  outboxAttempt: 'refund_lifecycle.outbox.attempt',
  errorType: 'error.type',
} as const;

const MAX_MESSAGE_LENGTH = 500;

/** An error's message, cut short: what a notifier or processor said, never what was sent to it. */
export const errorMessage = (error: unknown): string => {
  const message = error instanceof Error ? error.message : String(error);
  return message.length > MAX_MESSAGE_LENGTH ? `${message.slice(0, MAX_MESSAGE_LENGTH)}…` : message;
};

export const correlationFields = (correlation: Correlation): LogFields => ({
  correlationId: correlation.correlationId,
  ...(correlation.causationId === null ? {} : { causationId: correlation.causationId }),
  ...(correlation.creditNoteId === null ? {} : { creditNoteId: correlation.creditNoteId }),
  ...(correlation.requestId == null ? {} : { requestId: correlation.requestId }),
});

const correlationAttributes = (correlation: Correlation): TelemetryAttributes => ({
  [attributeNames.correlationId]: correlation.correlationId,
  ...(correlation.causationId === null ? {} : { [attributeNames.causationId]: correlation.causationId }),
  ...(correlation.creditNoteId === null ? {} : { [attributeNames.creditNoteId]: correlation.creditNoteId }),
});

const withoutUndefined = (fields: LogFields): LogFields =>
  Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));

const elapsedMs = (startedAt: number): number => Math.round((performance.now() - startedAt) * 100) / 100;

/** Observability must never break the work it watches: a throwing sink is ignored. */
const quietly = (work: () => void): void => {
  try {
    work();
  } catch {
    // A logger or an exporter that throws loses its line, never the command.
  }
};

const noopSpan: TelemetrySpan = { setAttributes: () => {}, end: () => {} };

const guardedSpan = (span: TelemetrySpan): TelemetrySpan => ({
  setAttributes: (attributes) => quietly(() => span.setAttributes(attributes)),
  end: (result) => quietly(() => span.end(result)),
});

/** The implementation's span behind each guarded one, shared so a span of one lifecycle can parent another's. */
const spans = new WeakMap<TelemetrySpan, TelemetrySpan>();

const guardedTelemetry = (telemetry: Telemetry) => {
  const counter = (name: string, description: string, unit: string): TelemetryCounter => {
    try {
      const instrument = telemetry.counter(name, { description, unit });
      return { add: (value, attributes) => quietly(() => instrument.add(value, attributes)) };
    } catch {
      return { add: () => {} };
    }
  };
  const histogram = (name: string, description: string, unit: string): TelemetryHistogram => {
    try {
      const instrument = telemetry.histogram(name, { description, unit });
      return { record: (value, attributes) => quietly(() => instrument.record(value, attributes)) };
    } catch {
      return { record: () => {} };
    }
  };
  return {
    startSpan: (name: string, options: TelemetrySpanOptions & { parent?: TelemetrySpan | undefined }): TelemetrySpan => {
      const { parent, ...rest } = options;
      const parentSpan = parent === undefined ? undefined : spans.get(parent);
      try {
        const started = telemetry.startSpan(name, parentSpan === undefined ? rest : { ...rest, parent: parentSpan });
        const guarded = guardedSpan(started);
        spans.set(guarded, started);
        return guarded;
      } catch {
        return noopSpan;
      }
    },
    /** Runs `work` with the span active in the host's tracing context, where the implementation can. */
    within: <T>(span: TelemetrySpan, work: () => T): T => {
      const started = spans.get(span);
      if (started === undefined || telemetry.withSpan === undefined) return work();
      // The host's context manager may throw: the work runs once whatever it does, and only the work's own outcome
      // (its value or its error) leaves here.
      let outcome: { value: T } | { error: unknown } | null = null;
      try {
        return telemetry.withSpan(started, () => {
          try {
            const value = work();
            outcome = { value };
            return value;
          } catch (error) {
            outcome = { error };
            throw error;
          }
        });
      } catch {
        const settled = outcome as { value: T } | { error: unknown } | null;
        if (settled === null) return work();
        if ('error' in settled) throw settled.error;
        return settled.value;
      }
    },
    counter,
    histogram,
  };
};

/** The answer of a command, as far as its log line and span tell it. */
export type CommandAnswer = {
  creditNoteId?: string | null;
  creditNoteIds?: readonly string[];
  paymentId?: string;
  status?: string;
  changed?: boolean;
};

/** An error as commands answer it: every library error has a stable code. */
type CodedError = { code: string; message: string };

/** A caller's mistake or a move the lifecycle refuses: nothing failed. */
const rejectionCodes = new Set([
  'validation_failed',
  'credit_note_not_found',
  'credit_note_exists',
  'transition_not_allowed',
  'account_mismatch',
  'refundable_balance_exceeded',
  'refund_window_closed',
]);
/** Trouble worth a warning that is not ours to fix: the processor unreachable, a write race lost too often. */
const troubleCodes = new Set(['gateway_error', 'concurrency_conflict']);

const commandLevel = (code: string): LogLevel => (rejectionCodes.has(code) || troubleCodes.has(code) ? 'warn' : 'error');

/** How a side effect's run ended, as `DispatchReport` counts it. */
export type SideEffectTally = 'performed' | 'obsolete' | 'retried' | 'dead' | 'lost';

/** What a side effect's line says besides its result: the error, and for a refund request what the processor answered. */
export type SideEffectNotes = {
  error?: string;
  /** The processor's code of a refused or failed refund request. */
  errorCode?: string;
  /** The attempt's state after a refund request: the processor's status, `failed`, or `in_doubt`. */
  refundStatus?: string;
  /** When an in-doubt attempt is asked again by itself; null once it waits for a person. */
  retryAt?: string | null;
};

export type SideEffectEntry = {
  id: string;
  kind: string;
  /** Deliveries so far, this one included. */
  deliveries: number;
  availableAt: string;
  creditNoteId: string | null;
  /** Ids and names that say which side effect it is: a refund attempt, a notification kind, a hook. */
  labels?: LogFields;
};

/** The result words of a side effect's line and metric. */
export const sideEffectResults: Record<SideEffectTally, string> = {
  performed: 'done',
  obsolete: 'obsolete',
  retried: 'retried',
  dead: 'parked',
  lost: 'lost',
};

const sideEffectLevel = (tally: SideEffectTally, notes: SideEffectNotes): LogLevel => {
  switch (tally) {
    case 'dead':
      return 'error';
    case 'retried':
    case 'lost':
      return 'warn';
    case 'obsolete':
      return 'debug';
    case 'performed':
      // A refund request that left its attempt in doubt with no automatic retry waits for a person.
      if (notes.refundStatus === 'in_doubt' && notes.retryAt === null) return 'error';
      return notes.errorCode === undefined ? 'info' : 'warn';
  }
};

export type GatewayCallFacts = {
  operation: string;
  processor: string;
  creditNoteId?: string | null;
  paymentId?: string;
  processorRefundId?: string;
  idempotencyKey?: string;
};

/** A processor that threw or answered nonsense is a bug somewhere; other transient errors are weather. */
const unexpectedGatewayCodes = new Set(['unexpected_error', 'invalid_processor_answer']);

export type ObserverSinks = { logger?: Logger | undefined; telemetry?: Telemetry | undefined; clock?: Clock | undefined };

export type Observer = ReturnType<typeof createObserver>;

/**
 * The lifecycle's observer over the host's logger and telemetry. Disabled
 * (`enabled: false`) when neither is given: then nothing is wrapped, timed or
 * scoped, and every method just runs its work.
 */
export const createObserver = (sinks: ObserverSinks = {}) => {
  const logger = sinks.logger ?? silentLogger;
  const clock = sinks.clock ?? systemClock;
  const enabled =
    (sinks.logger !== undefined && sinks.logger !== silentLogger) ||
    (sinks.telemetry !== undefined && sinks.telemetry !== noopTelemetry);
  const telemetry = guardedTelemetry(enabled ? (sinks.telemetry ?? noopTelemetry) : noopTelemetry);
  const metrics = {
    commands: telemetry.counter(metricNames.commands, 'Commands by name and outcome (ok or the error code)', '{command}'),
    commandDuration: telemetry.histogram(metricNames.commandDuration, 'Command duration, inline side effects included', 'ms'),
    sideEffects: telemetry.counter(metricNames.sideEffects, 'Side effects performed, by kind and result', '{side_effect}'),
    outboxLag: telemetry.histogram(metricNames.outboxLag, 'How long a due outbox entry waited: dispatch time minus its availableAt', 'ms'),
    gatewayLatency: telemetry.histogram(metricNames.gatewayLatency, 'Payment processor call latency, by operation and outcome', 'ms'),
  };

  const log = (level: LogLevel, fields: LogFields, message: string): void => {
    if (!enabled) return;
    quietly(() => logger[level](withoutUndefined(fields), message));
  };

  /**
   * One command: a span (a child of the command or side effect it runs in,
   * if any), its scope for the processor calls and side effects inside, then
   * one line and the metrics once it answered.
   */
  const command = <T, E extends CodedError>(
    name: string,
    correlation: Correlation,
    run: () => PromiseLike<Result<T, E>>,
    describe: (value: T) => CommandAnswer,
  ): ResultAsync<T, E> => {
    if (!enabled) return new ResultAsync(Promise.resolve(run()));
    const startedAt = performance.now();
    const span = telemetry.startSpan(`refund_lifecycle.command ${name}`, {
      parent: currentScope()?.span,
      attributes: { [attributeNames.command]: name, ...correlationAttributes(correlation) },
    });
    const scope: Scope = { ...correlation, span };
    const finish = (outcome: string, level: LogLevel, fields: LogFields, end: TelemetrySpanEnd) => {
      const durationMs = elapsedMs(startedAt);
      const attributes = { [attributeNames.command]: name, [attributeNames.outcome]: outcome };
      metrics.commands.add(1, attributes);
      metrics.commandDuration.record(durationMs, attributes);
      span.end(end);
      log(level, { event: 'refund_lifecycle.command', command: name, outcome, durationMs, ...correlationFields(scope), ...fields }, `command ${name} ${outcome}`);
    };
    const answered = (result: Result<T, E>): Result<T, E> => {
      if (result.isOk()) {
        const answer = describe(result.value);
        // What the command learnt (the credit note an observation or an adoption landed on) joins its line.
        if (scope.creditNoteId === null && typeof answer.creditNoteId === 'string') scope.creditNoteId = answer.creditNoteId;
        const { creditNoteId: _known, ...rest } = answer;
        if (scope.creditNoteId !== null) span.setAttributes({ [attributeNames.creditNoteId]: scope.creditNoteId });
        finish('ok', answer.changed === false ? 'debug' : 'info', rest, { status: 'unset' });
      } else {
        const { code } = result.error;
        const level = commandLevel(code);
        finish(code, level, { error: errorMessage(result.error) }, {
          status: rejectionCodes.has(code) ? 'unset' : 'error',
          message: code,
          attributes: { [attributeNames.errorType]: code },
        });
      }
      return result;
    };
    const thrown = (cause: unknown): never => {
      finish('thrown', 'error', { error: errorMessage(cause) }, { status: 'error', message: errorMessage(cause) });
      throw cause;
    };
    let pending: PromiseLike<Result<T, E>>;
    try {
      pending = scopes.run(scope, () => telemetry.within(span, run));
    } catch (cause) {
      return thrown(cause);
    }
    return new ResultAsync(Promise.resolve(pending).then(answered, thrown));
  };

  /**
   * One outbox entry performed: its own scope (correlation and causation:
   * the entry id, as on the events the dispatcher records), a span that is a
   * child of the command that dispatched it inline, if any, one line and the
   * metrics.
   */
  const sideEffect = async <O extends { tally: SideEffectTally; notes?: SideEffectNotes }>(
    entry: SideEffectEntry,
    work: () => Promise<O>,
  ): Promise<O> => {
    if (!enabled) return work();
    const startedAt = performance.now();
    const lagMs = Math.max(0, clock.now().getTime() - Date.parse(entry.availableAt));
    metrics.outboxLag.record(lagMs, { [attributeNames.sideEffectKind]: entry.kind });
    const correlation: Correlation = { correlationId: entry.id, causationId: entry.id, creditNoteId: entry.creditNoteId };
    const span = telemetry.startSpan(`refund_lifecycle.side_effect ${entry.kind}`, {
      parent: currentScope()?.span,
      attributes: {
        [attributeNames.sideEffectKind]: entry.kind,
        [attributeNames.outboxEntryId]: entry.id,
        [attributeNames.outboxAttempt]: entry.deliveries,
        ...correlationAttributes(correlation),
      },
    });
    const line = (result: string, level: LogLevel, notes: SideEffectNotes) =>
      log(
        level,
        {
          event: 'refund_lifecycle.side_effect',
          kind: entry.kind,
          entryId: entry.id,
          result,
          attempt: entry.deliveries,
          ...correlationFields(correlation),
          ...entry.labels,
          durationMs: elapsedMs(startedAt),
          lagMs,
          ...notes,
        },
        `side effect ${entry.kind} ${result}`,
      );
    try {
      const outcome = await scopes.run({ ...correlation, span }, () => telemetry.within(span, work));
      const result = sideEffectResults[outcome.tally];
      const notes = outcome.notes ?? {};
      const level = sideEffectLevel(outcome.tally, notes);
      metrics.sideEffects.add(1, { [attributeNames.sideEffectKind]: entry.kind, [attributeNames.sideEffectResult]: result });
      span.end({
        status: outcome.tally === 'retried' || outcome.tally === 'dead' ? 'error' : 'unset',
        attributes: { [attributeNames.sideEffectResult]: result },
        ...(notes.error === undefined ? {} : { message: notes.error }),
      });
      line(result, level, notes);
      return outcome;
    } catch (cause) {
      // The store could not even take the entry back: it stays claimed until its lease runs out.
      metrics.sideEffects.add(1, { [attributeNames.sideEffectKind]: entry.kind, [attributeNames.sideEffectResult]: 'error' });
      span.end({ status: 'error', message: errorMessage(cause), attributes: { [attributeNames.sideEffectResult]: 'error' } });
      line('error', 'error', { error: errorMessage(cause) });
      throw cause;
    }
  };

  /** One processor call: a client span under the command or side effect making it, one line, its latency. */
  const gatewayCall = async <T>(
    facts: GatewayCallFacts,
    work: () => Promise<Result<T, GatewayError>>,
  ): Promise<Result<T, GatewayError>> => {
    if (!enabled) return work();
    const startedAt = performance.now();
    const scope = currentScope();
    // A call outside any command or side effect (a host's own use of the port) has no correlation to carry.
    const correlation: Correlation | null =
      scope === undefined
        ? null
        : { correlationId: scope.correlationId, causationId: scope.causationId, creditNoteId: facts.creditNoteId ?? scope.creditNoteId };
    const span = telemetry.startSpan(`refund_lifecycle.gateway ${facts.operation}`, {
      kind: 'client',
      parent: scope?.span,
      attributes: {
        [attributeNames.gatewayOperation]: facts.operation,
        [attributeNames.processor]: facts.processor,
        ...(correlation === null ? {} : correlationAttributes(correlation)),
      },
    });
    const { operation, processor, creditNoteId, ...ids } = facts;
    const finish = (outcome: 'ok' | 'transient' | 'definitive', level: LogLevel, fields: LogFields, end: TelemetrySpanEnd) => {
      const latencyMs = elapsedMs(startedAt);
      metrics.gatewayLatency.record(latencyMs, {
        [attributeNames.gatewayOperation]: operation,
        [attributeNames.processor]: processor,
        [attributeNames.outcome]: outcome,
      });
      span.end(end);
      log(
        level,
        {
          event: 'refund_lifecycle.gateway',
          operation,
          processor,
          ...(correlation === null ? { creditNoteId } : correlationFields(correlation)),
          ...ids,
          latencyMs,
          outcome: outcome === 'ok' ? 'ok' : 'error',
          ...fields,
        },
        `gateway ${operation} ${outcome === 'ok' ? 'ok' : `${outcome} error`}`,
      );
    };
    let answer: Result<T, GatewayError>;
    try {
      answer = await telemetry.within(span, work);
    } catch (cause) {
      finish('transient', 'error', { errorKind: 'thrown', error: errorMessage(cause) }, { status: 'error', message: errorMessage(cause) });
      throw cause;
    }
    if (answer.isOk()) finish('ok', 'debug', {}, { status: 'unset' });
    else {
      const { kind, processorCode } = answer.error;
      const level: LogLevel = kind === 'transient' && unexpectedGatewayCodes.has(processorCode) ? 'error' : 'warn';
      finish(kind, level, { errorKind: kind, errorCode: processorCode, error: errorMessage(answer.error) }, {
        status: 'error',
        message: processorCode,
        attributes: { [attributeNames.errorType]: processorCode },
      });
    }
    return answer;
  };

  return { enabled, log, command, sideEffect, gatewayCall };
};

/** Off: what the lifecycle internals use when nobody asked for logs or telemetry. */
export const silentObserver: Observer = createObserver();
