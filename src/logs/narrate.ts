import type { DomainEvent } from '../events/envelope.js';
import type { CreditNoteContext } from '../machine/creditNoteState.js';

/*
 * Events told in plain words for people reading a timeline ("why is this
 * refund stuck?"). Only wording lives here: what happened is the event's.
 */

const fractionDigits = new Map<string, number>();

/** An amount in minor units, in the currency's own decimals (JPY has none, EUR two). */
export const money = (amount: number, currency: string): string => {
  const code = currency.toUpperCase();
  let digits = fractionDigits.get(code);
  if (digits === undefined) {
    try {
      digits = new Intl.NumberFormat('en', { style: 'currency', currency: code }).resolvedOptions().maximumFractionDigits ?? 2;
    } catch {
      digits = 2;
    }
    fractionDigits.set(code, digits);
  }
  return `${(amount / 10 ** digits).toFixed(digits)} ${code}`;
};

/** `2026-11-30 10:02:11 UTC`, from any ISO 8601 instant (offsets converted). */
export const instant = (iso: string): string => {
  const utc = new Date(iso).toISOString();
  return `${utc.slice(0, 10)} ${utc.slice(11, 19)} UTC`;
};

const words = (code: string) => code.replace(/_/g, ' ');

/** `stripe` → `Stripe`: processors are named as people say them. */
export const processorName = (processor: string): string => processor.charAt(0).toUpperCase() + processor.slice(1);

/** Who or what made the event happen, and through which channel. */
export const causeOf = (event: DomainEvent, processor: string): string => {
  const who = event.actor.kind === 'user' ? `user ${event.actor.id}` : event.actor.kind === 'processor' ? processorName(event.actor.id) : event.actor.id;
  switch (event.source) {
    case 'command':
      return `by ${who}`;
    case 'webhook':
      return `${processorName(processor)} webhook${event.causationId === null ? '' : ` ${event.causationId}`}`;
    case 'refresh':
      return `Refresh status (${processorName(processor)} asked), by ${who}`;
    case 'dispatcher':
      return `${processorName(processor)}'s answer to the dispatcher's call`;
    case 'dashboard':
      return `${processorName(processor)} dashboard`;
    case 'import':
      return `imported, by ${who}`;
    case 'reconcile':
      return `${processorName(processor)} event${event.causationId === null ? '' : ` ${event.causationId}`}, fetched by reconciliation (its webhook was missed)`;
  }
};

/**
 * A refund request's event in a sentence; who decided is the envelope's actor.
 * `currency`: the request's, from its submission (an approval names only the amount).
 */
export const describeRequestEvent = (event: DomainEvent, currency = ''): string => {
  const who = `${event.actor.kind} ${event.actor.id}`;
  switch (event.type) {
    case 'RefundRequestSubmitted': {
      const { requestId, amount, currency, reason, payment, override } = event.data;
      const overridden = override === null ? '' : ` Policy rules ${override.rules.join(', ')} overridden: "${override.reason}".`;
      return `Refund request ${requestId} submitted by ${who} for ${money(amount, currency)} on payment ${payment.paymentId} (${words(reason)}).${overridden}`;
    }
    case 'RefundRequestApproved': {
      const data = event.data;
      const refund = data.option === 'cancel_only' ? 'the subscription cancelled, nothing refunded' : `credit note ${data.creditNoteId} issued for ${currency === '' ? `${data.amount} (minor units)` : money(data.amount, currency)}`;
      const overridden = data.override === null ? '' : ` Policy rules ${data.override.rules.join(', ')} overridden: "${data.override.reason}".`;
      return `Approved by ${who} (${words(data.option)}): ${refund}.${overridden}`;
    }
    case 'RefundRequestRejected':
      return `Rejected by ${who}${event.data.note === null ? '' : `, with a note to the customer: "${event.data.note}"`}.`;
    case 'RefundRequestWithdrawn':
      return `Withdrawn by ${who}.`;
    default:
      return `${event.type}.`;
  }
};

/**
 * One event in a sentence. `before` is the credit note as the event found
 * it (its payment names the processor; its attempt gives a refund its amount).
 */
export const describeEvent = (event: DomainEvent, before: CreditNoteContext, processor: string): string => {
  const by = processorName(processor);
  switch (event.type) {
    case 'CreditNoteIssued': {
      const { creditNoteId, amount, currency, payment, reason, origin } = event.data;
      const paid = payment === null ? 'not paid through a processor (only a manual refund fits)' : `on payment ${payment.paymentId}`;
      const made = origin === 'processor' ? `, following a refund made at ${processorName(payment?.processor ?? processor)}` : '';
      return `Credit note ${creditNoteId} issued for ${money(amount, currency)} ${paid}${made}: "${reason}".`;
    }
    case 'RefundDeferred':
      if (event.data.reason === 'charge_not_confirmed') {
        return `Refund held back: ${by} has not confirmed the charge${before.payment === null ? '' : ` of ${before.payment.paymentId}`} yet (charge-confirmation gate).`;
      }
      return (
        `Attempt ${event.data.attempt} in doubt: ${by} answered ${event.data.error.code} ("${event.data.error.message}"), ` +
        `error ${event.data.consecutiveFailures} in a row; ` +
        (event.data.retryAt === null ? 'automatic retries used up, a person must retry.' : `same attempt, same key, tried again at ${instant(event.data.retryAt)}.`)
      );
    case 'RefundRequested':
      return `Refund attempt ${event.data.attempt} requested from ${by}: ${money(event.data.amount, event.data.currency)}, idempotency key ${event.data.idempotencyKey}.`;
    case 'RefundAdopted':
      return `Refund ${event.data.processorRefundId} made outside the library (${by} dashboard) adopted as attempt 1: ${money(event.data.amount, event.data.currency)}, ${words(event.data.processorStatus)}.`;
    case 'RefundAccepted': {
      const reason = event.data.pendingReason === null ? '' : ` (${words(event.data.pendingReason)})`;
      return `${by} accepted attempt ${event.data.attempt} as refund ${event.data.processorRefundId}: ${words(event.data.processorStatus)}${reason}.`;
    }
    case 'RefundProgressed': {
      const reason = event.data.pendingReason === null ? '' : ` (${words(event.data.pendingReason)})`;
      return `${by} still ${event.data.processorStatus === 'action_required' ? 'needs action on' : 'pending on'} refund ${event.data.processorRefundId}${reason}.`;
    }
    case 'RefundSucceeded':
      return `${by} reports refund ${event.data.processorRefundId} (attempt ${event.data.attempt}) succeeded.`;
    case 'RefundFailed': {
      const { attempt, processorRefundId, processorReason, classification, message } = event.data;
      const reversal = before.refund?.status === 'succeeded' ? ' after it had succeeded (reversed)' : '';
      const refund = processorRefundId === null ? `attempt ${attempt}` : `refund ${processorRefundId} (attempt ${attempt})`;
      const sentence = /[.!?]$/.test(message) ? message : `${message}.`;
      return `${by} reports ${refund} failed${reversal}: ${processorReason} — ${sentence} Retrying ${words(classification.retry)}; next step: ${words(classification.recovery)}.`;
    }
    case 'RetryRequested':
      return `Asked to try again: the failure is cleared and the next attempt will be ${(before.refund?.attempt ?? 0) + 1}.`;
    case 'MarkedRefundedManually':
      return `Refunded outside ${by} by ${words(event.data.method)}${event.data.reference === null ? '' : ` (reference ${event.data.reference})`}: "${event.data.reason}".`;
    case 'PaymentDescribed': {
      const { amount, currency, method, refundableUntil } = event.data;
      const charged = amount === null || currency === null ? 'amount unknown' : money(amount, currency);
      return `${by} describes payment ${event.streamId.replace(/^payment-/, '')}: ${charged}${method === null ? '' : ` by ${words(method)}`}${refundableUntil === null ? '' : `, refundable until ${instant(refundableUntil)}`}.`;
    }
    case 'CreditNoteAttached':
      return `Credit note ${event.data.creditNoteId} (${money(event.data.amount, event.data.currency)}) counted against payment ${event.streamId.replace(/^payment-/, '')}.`;
    case 'ChargeConfirmed':
      return `${processorName(event.data.processor)} confirmed the charge of ${event.data.paymentId}: refunds may go out.`;
    case 'RefundRequestOpened':
      return `Refund request ${event.data.requestId} awaits review on payment ${event.streamId.replace(/^payment-/, '')}.`;
    case 'RefundRequestClosed':
      return `Refund request ${event.data.requestId} was decided: the payment may take another request.`;
    default:
      return describeRequestEvent(event);
  }
};
