import { ok, safeTry, type Result } from 'neverthrow';
import type { EventValidationError, TransitionConflictError } from '../errors.js';
import type { PaymentState } from '../machine/paymentState.js';
import { proposeOrConflict } from './commands/commandSupport.js';
import { startChange, type CreditNoteChange } from './creditNoteChange.js';
import type { LifecycleDeps } from './deps.js';
import { nextRefundStep } from './nextRefundStep.js';
import { loadCreditNote, type KnownCreditNote } from './streams.js';

/** Read-model rows fetched per page when gathering a payment's credit notes. */
const PAGE = 500;

/**
 * Every credit note the payment's stream lists, as its read-model row holds
 * it: state and version are written in the same append as the events, so the
 * row is the stream's fold at that version, and one indexed read replaces a
 * replay per sibling. A decision that appends to a sibling names that version,
 * so a sibling changed since is caught as a conflict and decided again. A
 * listed credit note without a row (none should exist) is replayed.
 */
export const loadCreditNotesOfPayment = async (
  deps: LifecycleDeps,
  paymentId: string,
  payment: PaymentState,
): Promise<Result<KnownCreditNote[], EventValidationError>> =>
  safeTry(async function* () {
    if (payment.creditNotes.length === 0) return ok([]);
    const rows = new Map<string, KnownCreditNote>();
    for (let after: string | undefined; ; ) {
      const page = await deps.store.listCreditNotes({ paymentId, limit: PAGE, ...(after === undefined ? {} : { after }) });
      for (const row of page) rows.set(row.creditNoteId, { streamId: row.streamId, version: row.version, state: row.state });
      if (page.length < PAGE) break;
      after = page[page.length - 1]!.creditNoteId;
    }
    const known: KnownCreditNote[] = [];
    for (const { creditNoteId } of payment.creditNotes) known.push(rows.get(creditNoteId) ?? (yield* await loadCreditNote(deps.store, creditNoteId)));
    return ok(known);
  });

/**
 * The credit notes of a payment that waited for its charge confirmation
 * (docs/glossary.md#charge-confirmation-gate), each moved on to its first
 * refund attempt. Whoever appends the
 * confirmation appends these in the same step, so none is left behind.
 */
export const releaseWaitingCreditNotes = (
  creditNotes: readonly KnownCreditNote[],
  now: Date,
): Result<CreditNoteChange[], TransitionConflictError> =>
  safeTry(function* () {
    const released: CreditNoteChange[] = [];
    for (const creditNote of creditNotes) {
      const { status, context } = creditNote.state;
      if (status !== 'pending' || context.pendingReason !== 'charge_not_confirmed') continue;
      released.push(yield* proposeOrConflict(startChange(creditNote), nextRefundStep(creditNote.state, true), now, 'release'));
    }
    return ok(released);
  });
