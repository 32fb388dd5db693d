import { ok, safeTry, type Result } from 'neverthrow';
import type { TransitionConflictError } from '../../errors.js';
import type { ManualRefundMethod } from '../../events/primitives.js';
import { executeCommand } from '../commandHandler.js';
import { markRefundedInputSchema, validateCreditNoteCommand } from '../commandInputs.js';
import { authorizeOrRefuse } from '../authorization.js';
import { startChange, type CreditNoteChange } from '../creditNoteChange.js';
import type { LifecycleDeps } from '../deps.js';
import type { KnownCreditNote } from '../streams.js';
import { commandMeta, loadIssuedCreditNote, outcomeFor, proposeOrConflict } from './commandSupport.js';

/** Pure: a refund made outside the processor, allowed while no refund attempt is in flight; the client is told once. */
export const decideMarkRefunded = (
  creditNote: KnownCreditNote,
  manual: { reason: string; reference: string | null; method: ManualRefundMethod },
  now: Date,
): Result<CreditNoteChange, TransitionConflictError> =>
  proposeOrConflict(startChange(creditNote), { type: 'MarkedRefundedManually', data: manual }, now, 'mark refunded');

export const markRefunded = (deps: LifecycleDeps, rawCreditNoteId: unknown, rawInput: unknown) =>
  safeTry(async function* () {
    const { creditNoteId, input } = yield* validateCreditNoteCommand(rawCreditNoteId, markRefundedInputSchema, rawInput);
    yield* await authorizeOrRefuse(deps, input.actor, 'mark_refunded', { creditNoteId });
    const { reason, reference = null, method = 'other' } = input;
    const executed = yield* await executeCommand(deps, commandMeta(deps, input), (now) =>
      safeTry(async function* () {
        const creditNote = yield* await loadIssuedCreditNote(deps, creditNoteId);
        const change = yield* decideMarkRefunded(creditNote, { reason, reference, method }, now);
        return ok({ creditNotes: [change], result: null });
      }),
    );
    return ok(outcomeFor(creditNoteId, executed));
  });
