import { err, type Result } from 'neverthrow';
import type { CommandError } from '../../errors.js';
import { executeCommand, type Plan } from '../commandHandler.js';
import { creditNoteIdSchema, markRefundedInputSchema, validateInput } from '../commandInputs.js';
import { startChange } from '../creditNoteChange.js';
import type { LifecycleDeps } from '../deps.js';
import { loadCreditNote } from '../streams.js';
import { commandMeta, proposeOrConflict, requireIssued, withoutClaims } from './commandSupport.js';

/** Records a refund made outside the processor; the reason is mandatory and the client is told once. */
export const markRefunded = async (
  deps: LifecycleDeps,
  rawCreditNoteId: unknown,
  rawInput: unknown,
): Promise<Result<{ creditNoteId: string; dueOutboxIds: string[] }, CommandError>> => {
  const creditNoteId = validateInput(creditNoteIdSchema, rawCreditNoteId);
  if (creditNoteId.isErr()) return err(creditNoteId.error);
  const input = validateInput(markRefundedInputSchema, rawInput);
  if (input.isErr()) return err(input.error);
  const id = creditNoteId.value;
  const { reason, reference = null, method = 'other' } = input.value;

  const executed = await executeCommand(deps, commandMeta(deps, input.value), async (now): Promise<Result<Plan<null>, CommandError>> => {
    const loaded = (await loadCreditNote(deps.store, id)).andThen((value) => requireIssued(value, id));
    if (loaded.isErr()) return err(loaded.error);
    return proposeOrConflict(
      startChange(loaded.value),
      { type: 'MarkedRefundedManually', data: { reason, reference, method } },
      now,
      'mark refunded',
    ).map((change) => ({ creditNotes: [change], result: null }));
  });
  return withoutClaims(executed).map(({ dueOutboxIds }) => ({ creditNoteId: id, dueOutboxIds }));
};
