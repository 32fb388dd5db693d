import { z } from 'zod';
import { identifierSchema, isoTimestampSchema } from '../events/primitives.js';
import { subscriptionOptions } from '../events/refundRequestEvents.js';
import type { RefundRequestIntent } from '../machine/refundRequestMachine.js';
import { refundRequestMachineStatuses, type RefundRequestState } from '../machine/refundRequestState.js';
import type { OutboxDraft } from '../ports/eventStore.js';
import { decidedOf } from './refundRequestView.js';

const decidedSchema = z.object({
  status: z.enum(refundRequestMachineStatuses).exclude(['unsubmitted']),
  requestId: identifierSchema,
  amount: z.number().int(),
  currency: z.string(),
  approvedAmount: z.number().int().nullable(),
  option: z.enum(subscriptionOptions).nullable(),
  note: z.string().nullable(),
  creditNoteId: identifierSchema.nullable(),
  subscriptionId: identifierSchema.nullable(),
  decidedAt: isoTimestampSchema,
  streamVersion: z.number().int().min(1),
});

/** Payloads are read back from the store by the dispatcher, and validated like any stored data. */
export const requestNoticePayloadSchema = z.object({
  requestId: identifierSchema,
  kind: z.enum(['refund_request_received', 'refund_request_approved', 'refund_request_rejected']),
  recipient: z.enum(['client', 'merchant']),
  decided: decidedSchema,
});
export const requestHookPayloadSchema = z.object({
  requestId: identifierSchema,
  hook: z.literal('cancelSubscription'),
  subscriptionId: identifierSchema,
  decided: decidedSchema,
});

/** Each notice and hook happens once per request: a request is decided once. */
export const requestNoticeIdempotencyKey = (requestId: string, kind: string) => `${requestId}:request:${kind}`;
export const requestHookIdempotencyKey = (requestId: string, hook: string) => `${requestId}:request:${hook}`;

/** A request machine's intent as an outbox entry, id `<streamId>#<deciding version>:<key>` like the credit note's. */
export const requestOutboxDraftFor = (
  intent: RefundRequestIntent,
  state: RefundRequestState,
  streamId: string,
  version: number,
  now: Date,
): OutboxDraft => {
  const { requestId, subscriptionId } = state.context;
  const decided = decidedOf(state, version, now.toISOString());
  const draft = (kind: OutboxDraft['kind'], idempotencyKey: string, payload: OutboxDraft['payload']): OutboxDraft => ({
    id: `${streamId}#${version}:${idempotencyKey}`,
    streamId,
    kind,
    idempotencyKey,
    payload,
    availableAt: now.toISOString(),
  });
  switch (intent.type) {
    case 'notify': {
      const { kind, recipient } = intent.params;
      return draft('request_notify', requestNoticeIdempotencyKey(requestId, kind), { requestId, kind, recipient, decided } satisfies z.input<typeof requestNoticePayloadSchema>);
    }
    case 'runHook': {
      const { hook } = intent.params;
      if (subscriptionId === null) throw new Error(`The ${hook} hook of request ${requestId}, which has no subscription`);
      return draft('request_hook', requestHookIdempotencyKey(requestId, hook), {
        requestId,
        hook,
        subscriptionId,
        decided,
      } satisfies z.input<typeof requestHookPayloadSchema>);
    }
  }
};
