import { err, type Result } from 'neverthrow';
import type { CommandError } from '../../errors.js';
import { executeCommand, type Plan } from '../commandHandler.js';
import { markRefundedInputSchema, validateCreditNoteCommand } from '../commandInputs.js';
import { startChange } from '../creditNoteChange.js';
import type { LifecycleDeps } from '../deps.js';
import {
  commandMeta,
  loadIssuedCreditNote,
  outcomeFor,
  proposeOrConflict,
  withoutClaims,
  type CommandOutcome,
} from './commandSupport.js';

/** Records a refund made outside the processor; the reason is mandatory and the client is told once. */
export const markRefunded = async (
  deps: LifecycleDeps,
  rawCreditNoteId: unknown,
  rawInput: unknown,
): Promise<Result<CommandOutcome, CommandError>> => {
  const command = validateCreditNoteCommand(rawCreditNoteId, markRefundedInputSchema, rawInput);
  if (command.isErr()) return err(command.error);
  const { creditNoteId: id, input } = command.value;
  const { reason, reference = null, method = 'other' } = input;

  const executed = await executeCommand(deps, commandMeta(deps, input), async (now): Promise<Result<Plan<null>, CommandError>> => {
    const loaded = await loadIssuedCreditNote(deps, id);
    if (loaded.isErr()) return err(loaded.error);
    return proposeOrConflict(
      startChange(loaded.value),
      { type: 'MarkedRefundedManually', data: { reason, reference, method } },
      now,
      'mark refunded',
    ).map((change) => ({ creditNotes: [change], result: null }));
  });
  return withoutClaims(executed).map((done) => outcomeFor(id, done));
};
