import type { Result } from 'neverthrow';
import type { CommandAnswer, Correlation, Observer } from './observer.js';

/**
 * The lifecycle's commands and where each takes its input: a command
 * addressed to a credit note takes its id first. `sweep` takes no
 * correlation id: its run has one for its lines, and each refresh it makes
 * writes its own. Reads and `dispatch()` are not commands (a dispatch round
 * is observed entry by entry).
 */
const commands = {
  issueCreditNote: 0,
  observeRefund: 0,
  adoptExternalRefund: 0,
  confirmCharge: 0,
  refreshStatus: 1,
  retryRefund: 1,
  markRefunded: 1,
  requestRefund: 0,
  approveRequest: 1,
  rejectRequest: 1,
  withdrawRequest: 1,
  sweep: null,
} as const satisfies Record<string, 0 | 1 | null>;

/** Commands addressed to a refund request: their first argument (or input's `requestId`) names the request. */
const requestCommands = new Set(['requestRefund', 'approveRequest', 'rejectRequest', 'withdrawRequest']);

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const stringOr = (value: unknown, fallback: string | null): string | null => (typeof value === 'string' ? value : fallback);

/**
 * The command's correlation, decided before it runs so that every line of
 * it, processor calls included, carries the id its events will carry: the
 * caller's `correlationId`, or one generated here and handed to the command
 * (which would otherwise generate it itself, later).
 */
const correlate = (args: unknown[], inputAt: 0 | 1 | null, generateId: () => string): { args: unknown[]; correlation: Correlation } => {
  const passed = [...args];
  if (inputAt === null) return { args: passed, correlation: { correlationId: generateId(), causationId: null, creditNoteId: null } };
  // `refreshStatus(id)` takes its input as optional: an absent one is an empty one.
  const input = inputAt === 1 && passed[1] === undefined ? {} : passed[inputAt];
  if (!isRecord(input)) {
    // Not an input the command accepts: it answers a validation error and writes nothing.
    return { args: passed, correlation: { correlationId: generateId(), causationId: null, creditNoteId: stringOr(passed[0], null) } };
  }
  let correlationId = stringOr(input.correlationId, null);
  if (input.correlationId === undefined) {
    correlationId = generateId();
    passed[inputAt] = { ...input, correlationId };
  }
  const refund = isRecord(input.refund) ? input.refund : {};
  const metadata = isRecord(refund.metadata) ? refund.metadata : {};
  const creditNoteId = inputAt === 1 ? stringOr(passed[0], null) : stringOr(input.creditNoteId, stringOr(metadata.creditNoteId, null));
  return {
    args: passed,
    correlation: { correlationId: correlationId ?? generateId(), causationId: stringOr(input.causationId, null), creditNoteId },
  };
};

/** What a command answered, for its line: the credit note and its status, whether anything changed. */
const describe = (value: unknown): CommandAnswer => {
  if (!isRecord(value)) return {};
  const view = typeof value.creditNoteId === 'string' ? value : isRecord(value.creditNote) ? value.creditNote : null;
  const released = Array.isArray(value.released) ? value.released.filter((id): id is string => typeof id === 'string') : null;
  return {
    ...(view === null ? {} : { creditNoteId: stringOr(view.creditNoteId, null), ...(typeof view.status === 'string' ? { status: view.status } : {}) }),
    ...(typeof value.changed === 'boolean' ? { changed: value.changed } : {}),
    ...(released === null ? {} : { creditNoteIds: released }),
    ...(typeof value.paymentId === 'string' ? { paymentId: value.paymentId } : {}),
  };
};

/**
 * The lifecycle with each command observed: a span around the whole call
 * (the side effects it performs inline are its children), one line with its
 * outcome and duration, and the command metrics. The same object when the
 * observer is off.
 */
export const observeCommands = <L extends Record<string, unknown>>(lifecycle: L, observer: Observer, generateId: () => string): L => {
  if (!observer.enabled) return lifecycle;
  const observed: Record<string, unknown> = { ...lifecycle };
  for (const [name, inputAt] of Object.entries(commands)) {
    const method = lifecycle[name];
    if (typeof method !== 'function') continue;
    observed[name] = (...args: unknown[]) => {
      const correlated = correlate(args, inputAt, generateId);
      const { args: passed } = correlated;
      const correlation = requestCommands.has(name)
        ? {
            ...correlated.correlation,
            creditNoteId: null,
            requestId: stringOr(inputAt === 1 ? args[0] : isRecord(args[0]) ? args[0].requestId : null, null),
          }
        : correlated.correlation;
      return observer.command(
        name,
        correlation,
        () => (method as (...a: unknown[]) => PromiseLike<Result<unknown, { code: string; message: string }>>)(...passed),
        describe,
      );
    };
  }
  return observed as L;
};
