import { z } from 'zod';
import {
  creditNoteIdSchema,
  failureClassificationSchema,
  identifierSchema,
  isoTimestampSchema,
  paymentRefSchema,
  refundMethodSchema,
} from '../events/primitives.js';
import type { Intent } from '../machine/creditNoteMachine.js';
import { creditNoteStatuses, type CreditNoteState } from '../machine/creditNoteState.js';
import { hookIdempotencyKey, notificationIdempotencyKey } from '../machine/idempotencyKeys.js';
import type { OutboxDraft } from '../ports/eventStore.js';

/**
 * What a notice or hook speaks about: the credit note as the deciding event
 * left it, recorded with the outbox entry when it is written. A notice may go
 * out long after (a retried email, a dispatcher on its own schedule), when the
 * credit note has moved on (the merchant pressed Retry): it still says which
 * attempt failed and why. JSON only.
 */
export const decidedOutcomeSchema = z.object({
  /** The status the deciding event led to, e.g. `failed` for a `refund_failed` notice. */
  status: z.enum(creditNoteStatuses),
  /** The attempt decided about; 0 if none was ever asked of the processor. For a manual refund: the last processor attempt before it, if any. */
  attempt: z.number().int().min(0),
  /** Minor units (cents); every attempt refunds the credit note's whole amount. */
  amount: z.number().int(),
  currency: z.string(),
  payment: paymentRefSchema.nullable(),
  /** The processor's refund of that attempt, when it made one. */
  processorRefundId: identifierSchema.nullable(),
  /** Why the attempt failed and what may help (`classification`); null unless it failed. */
  failure: z
    .object({ processorReason: z.string(), classification: failureClassificationSchema, message: z.string() })
    .nullable(),
  /** How it was refunded outside the processor; null unless `status` is `manual`. */
  manual: z.object({ reason: z.string(), reference: z.string().nullable(), method: refundMethodSchema }).nullable(),
  settledAt: isoTimestampSchema.nullable(),
  /** When the deciding event occurred. */
  decidedAt: isoTimestampSchema,
  /** The stream version of the deciding event: the credit note's `version` right after it. */
  streamVersion: z.number().int().min(1),
});
export type DecidedOutcome = z.output<typeof decidedOutcomeSchema>;

/** The outcome as `state` (the state right after the event at `streamVersion`, which occurred at `decidedAt`) records it. */
export const decidedOutcomeOf = (state: CreditNoteState, streamVersion: number, decidedAt: string): DecidedOutcome => {
  const { status, context } = state;
  const { refund, failure, manual } = context;
  return {
    status,
    attempt: refund?.attempt ?? 0,
    amount: context.amount,
    currency: context.currency,
    payment: context.payment,
    processorRefundId: refund?.processorRefundId ?? null,
    failure: failure === null ? null : { ...failure, classification: { ...failure.classification } },
    manual: manual === null ? null : { ...manual },
    settledAt: context.settledAt,
    decidedAt,
    streamVersion,
  };
};

/**
 * Payloads name the credit note and attempt and, for notices and hooks, what
 * was decided; the dispatcher parses the payload it reads back from the store.
 */
export const createRefundPayloadSchema = z.object({ creditNoteId: creditNoteIdSchema, attempt: z.number().int().min(1) });
export const notifyPayloadSchema = z.object({
  creditNoteId: creditNoteIdSchema,
  kind: z.enum(['refund_completed', 'refund_failed', 'manual_refund_recorded']),
  recipient: z.enum(['client', 'merchant']),
  decided: decidedOutcomeSchema,
});
export const runHookPayloadSchema = z.object({
  creditNoteId: creditNoteIdSchema,
  hook: z.enum(['refundSucceeded', 'refundFailed', 'refundedManually']),
  decided: decidedOutcomeSchema,
});

/** Outbox entry ids are `<streamId>#<deciding version>:<idempotency key>`. */
const outboxEntryId = (streamId: string, version: number, idempotencyKey: string) => `${streamId}#${version}:${idempotencyKey}`;


/**
 * Turns a machine intent into an outbox entry. The entry id combines the
 * stream version that decided it with the idempotency key, so replaying the
 * same decision can never enqueue the side effect twice.
 */
export const outboxDraftFor = (
  intent: Intent,
  state: CreditNoteState,
  streamId: string,
  version: number,
  now: Date,
): OutboxDraft => {
  const { creditNoteId, refund } = state.context;
  const attempt = refund?.attempt ?? 0;
  // `now` is the instant of the whole decision, which every event it appends carries as `occurredAt`.
  const decided = decidedOutcomeOf(state, version, now.toISOString());
  const draft = (kind: OutboxDraft['kind'], idempotencyKey: string, payload: OutboxDraft['payload'], availableAt = now) => ({
    id: outboxEntryId(streamId, version, idempotencyKey),
    streamId,
    kind,
    idempotencyKey,
    payload,
    availableAt: availableAt.toISOString(),
  });
  switch (intent.type) {
    case 'requestRefund':
    case 'scheduleRefundRetry': {
      const retryAt = intent.type === 'scheduleRefundRetry' ? state.context.transientError?.retryAt : null;
      return draft(
        'create_refund',
        refund?.idempotencyKey ?? '',
        { creditNoteId, attempt } satisfies z.input<typeof createRefundPayloadSchema>,
        retryAt ? new Date(retryAt) : now,
      );
    }
    case 'notify': {
      const { kind, recipient } = intent.params;
      // An attempt's outcome is news once per attempt: a refund Stripe reversed and a retry that then succeeded
      // each deserve their message. A manual refund happens once per credit note.
      const key = notificationIdempotencyKey(creditNoteId, kind, kind === 'manual_refund_recorded' ? undefined : attempt);
      return draft('notify', key, { creditNoteId, kind, recipient, decided } satisfies z.input<typeof notifyPayloadSchema>);
    }
    case 'runHook': {
      const { hook } = intent.params;
      const key = hookIdempotencyKey(creditNoteId, hook, hook === 'refundedManually' ? undefined : attempt);
      return draft('run_hook', key, { creditNoteId, hook, decided } satisfies z.input<typeof runHookPayloadSchema>);
    }
  }
};
