import { z } from 'zod';
import { creditNoteIdSchema } from '../events/primitives.js';
import type { Intent } from '../machine/creditNoteMachine.js';
import type { CreditNoteState } from '../machine/creditNoteState.js';
import { hookIdempotencyKey, notificationIdempotencyKey } from '../machine/idempotencyKeys.js';
import type { OutboxDraft } from '../ports/eventStore.js';

/**
 * Payloads name the credit note and attempt; the dispatcher reloads everything
 * else when it runs, and parses the payload it reads back from the store.
 */
export const createRefundPayloadSchema = z.object({ creditNoteId: creditNoteIdSchema, attempt: z.number().int().min(1) });
export const notifyPayloadSchema = z.object({
  creditNoteId: creditNoteIdSchema,
  kind: z.enum(['refund_completed', 'refund_failed', 'manual_refund_recorded']),
  recipient: z.enum(['client', 'merchant']),
});
export const runHookPayloadSchema = z.object({
  creditNoteId: creditNoteIdSchema,
  hook: z.enum(['refundSucceeded', 'refundFailed', 'refundedManually']),
});

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
  const draft = (kind: OutboxDraft['kind'], idempotencyKey: string, payload: OutboxDraft['payload'], availableAt = now) => ({
    id: `${streamId}#${version}:${idempotencyKey}`,
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
      return draft('notify', key, { creditNoteId, kind, recipient } satisfies z.input<typeof notifyPayloadSchema>);
    }
    case 'runHook': {
      const { hook } = intent.params;
      const key = hookIdempotencyKey(creditNoteId, hook, hook === 'refundedManually' ? undefined : attempt);
      return draft('run_hook', key, { creditNoteId, hook } satisfies z.input<typeof runHookPayloadSchema>);
    }
  }
};
