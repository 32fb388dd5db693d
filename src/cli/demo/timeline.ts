/*
 * Printing helpers for the demo. Everything here formats facts the demo read
 * back from the store, the fake processor and the recording notifier; nothing
 * here decides what happened.
 */
import type { OutboxEntry, ProcessorRefund, StoredEvent } from '../../index.js';
import { money } from '../../logs/narrate.js';

const TIME_WIDTH = 10;
const SUBJECT_WIDTH = 14;
const TYPE_WIDTH = 24;

/** Where side-effect lines start, under the event type column. */
const effectIndent = ' '.repeat(TIME_WIDTH + SUBJECT_WIDTH);

export const clockTime = (iso: string): string => iso.slice(11, 19);

/** Credit-note streams are shown by credit note id, payment streams by payment id. */
const subjectOf = (event: StoredEvent): string =>
  event.streamId.replace(/^credit-note-/, '').replace(/^payment-/, '').replace(/^refund-request-/, '');

/** Which channel carried the fact, when it was not the command itself. */
const carrier = (event: StoredEvent): string => {
  switch (event.source) {
    case 'webhook':
      return ` · via webhook${event.causationId ? ` ${event.causationId}` : ''}`;
    case 'refresh':
      return ' · via Refresh status';
    case 'dispatcher':
      return ' · processor answer';
    default:
      return '';
  }
};

export const eventDetail = (event: StoredEvent): string => {
  switch (event.type) {
    case 'CreditNoteIssued': {
      const { amount, currency, payment, reason } = event.data;
      const paidBy = payment ? `on ${payment.paymentId}` : 'paid outside the processor';
      return `${money(amount, currency)} ${paidBy}, "${reason}"`;
    }
    case 'RefundDeferred':
      return event.data.reason === 'charge_not_confirmed'
        ? 'charge not confirmed yet: waiting (charge-confirmation gate)'
        : `attempt ${event.data.attempt}, ${event.data.error.code}, retry at ${event.data.retryAt ?? 'a person'}`;
    case 'RefundRequested':
      return `attempt ${event.data.attempt}, key ${event.data.idempotencyKey}`;
    case 'RefundAccepted':
      return `attempt ${event.data.attempt}, ${event.data.processorRefundId} ${event.data.processorStatus}`;
    case 'RefundSucceeded':
      return `attempt ${event.data.attempt}, ${event.data.processorRefundId}`;
    case 'RefundFailed':
      return `attempt ${event.data.attempt}, ${event.data.processorReason} (retry ${event.data.classification.retry.replace(/_/g, ' ')})`;
    case 'RetryRequested':
      return `by ${event.actor.id}, stale failure cleared`;
    case 'RefundAdopted':
      return `${event.data.processorRefundId} made at the processor, ${money(event.data.amount, event.data.currency)}, ${event.data.processorStatus}`;
    case 'PaymentDescribed':
      return `${event.data.amount === null || event.data.currency === null ? 'amount unknown' : money(event.data.amount, event.data.currency)}, ${event.data.method ?? 'method unknown'}`;
    case 'RefundProgressed':
      return `attempt ${event.data.attempt}, ${event.data.processorRefundId} now ${event.data.processorStatus}`;
    case 'MarkedRefundedManually':
      return `${event.data.method.replace(/_/g, ' ')}, ref ${event.data.reference ?? '—'}: "${event.data.reason}"`;
    case 'CreditNoteAttached':
      return `${event.data.creditNoteId} attached`;
    case 'ChargeConfirmed':
      return `charge confirmed by ${event.data.processor}`;
    case 'RefundRequestOpened':
      return `request ${event.data.requestId} awaits review`;
    case 'RefundRequestClosed':
      return `request ${event.data.requestId} decided`;
    case 'RefundRequestSubmitted':
      return `${money(event.data.amount, event.data.currency)} asked by ${event.data.customerId}, ${event.data.reason.replace(/_/g, ' ')}${event.data.subscriptionId === null ? '' : `, subscription ${event.data.subscriptionId}`}`;
    case 'RefundRequestApproved':
      return event.data.option === 'cancel_only'
        ? `cancel only, by ${event.actor.id}`
        : `${event.data.option.replace(/_/g, ' ')}, credit note ${event.data.creditNoteId}, by ${event.actor.id}`;
    case 'RefundRequestRejected':
      return `by ${event.actor.id}${event.data.note === null ? '' : `: "${event.data.note}"`}`;
    case 'RefundRequestWithdrawn':
      return `by ${event.actor.id}`;
  }
};

/** A column of at least `width`, always followed by a space when its text fills it. */
const column = (text: string, width: number): string => (text.length < width ? text.padEnd(width) : `${text} `);

export const eventLine = (event: StoredEvent): string =>
  `${clockTime(event.occurredAt).padEnd(TIME_WIDTH)}${column(subjectOf(event), SUBJECT_WIDTH)}${column(event.type, TYPE_WIDTH)}${eventDetail(event)}${carrier(event)}`;

export const effectLine = (text: string): string => `${effectIndent}${text}`;

/** A performed outbox entry, told with what really reached the processor, the inbox or the host's hook. */
export const sideEffectText = (
  entry: OutboxEntry,
  found: { refund?: ProcessorRefund | undefined; delivered?: { kind: string; recipient: string } | undefined; hookRan?: boolean },
): string => {
  switch (entry.kind) {
    case 'create_refund':
      return found.refund
        ? `→ refund ${found.refund.processorRefundId} created at processor (${found.refund.status}, ${money(found.refund.amount, found.refund.currency)})`
        : `→ refund request ${entry.idempotencyKey}: nothing created at processor`;
    case 'notify':
      return found.delivered
        ? `✉ ${found.delivered.kind} → ${found.delivered.recipient}`
        : `✉ ${entry.idempotencyKey} not delivered`;
    case 'run_hook':
    case 'request_hook':
      return found.hookRan ? `⚙ hook ${String(entry.payload.hook)} ran` : `⚙ hook ${String(entry.payload.hook)} did not run`;
    case 'request_notify':
      return found.delivered ? `✉ ${found.delivered.kind} → ${found.delivered.recipient}` : `✉ ${entry.idempotencyKey} not delivered`;
  }
};

export const heading = (title: string): string => `\n── ${title} ${'─'.repeat(Math.max(3, 78 - title.length))}`;

/** Something the script makes the world do: ▸ a person or the processor acts, ⇢ a webhook arrives, ✗ one is lost. */
export const actionLine = (time: string, text: string, marker = '▸'): string =>
  `${clockTime(time).padEnd(TIME_WIDTH)}${marker} ${text}`;
