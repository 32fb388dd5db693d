/**
 * Deterministic keys: the same decision always yields the same key, so a
 * replayed or duplicated side effect is recognised by the processor, the
 * notifier and the outbox alike.
 */
export const refundIdempotencyKey = (creditNoteId: string, attempt: number): string =>
  `${creditNoteId}:refund:${attempt}`;

export const notificationIdempotencyKey = (creditNoteId: string, kind: string, attempt?: number): string =>
  attempt === undefined ? `${creditNoteId}:notify:${kind}` : `${creditNoteId}:notify:${kind}:${attempt}`;

export const hookIdempotencyKey = (creditNoteId: string, hook: string, attempt?: number): string =>
  attempt === undefined ? `${creditNoteId}:hook:${hook}` : `${creditNoteId}:hook:${hook}:${attempt}`;
