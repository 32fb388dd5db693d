import { err, ok, safeTry, type Result } from 'neverthrow';
import {
  AccountMismatchError,
  ValidationError,
  type ConcurrencyError,
  type CreditNoteNotFoundError,
  type EventValidationError,
  type OutboxClaimLostError,
} from '../../errors.js';
import type { OutboxClaim } from '../../ports/eventStore.js';
import type { ProcessorRefund } from '../../ports/refundGateway.js';
import { executeCommand, type CommandMeta } from '../commandHandler.js';
import { observeRefundInputSchema, validateInput } from '../commandInputs.js';
import { proposeAllowedEvents, startChange, type ProposedCreditNoteEvent } from '../creditNoteChange.js';
import type { LifecycleDeps } from '../deps.js';
import type { CreditNoteState } from '../../machine/creditNoteState.js';
import { eventsForObservation } from '../observation.js';
import { commandMeta, loadIssuedCreditNote, outcomeFor, type CommandOutcome } from './commandSupport.js';
import type { KnownCreditNote, LoadedCreditNote } from '../streams.js';
import type { StoredEvent } from '../../events/envelope.js';

export type ObservationOutcome = CommandOutcome & { changed: boolean };

/** What an observation coming from outside (a webhook) must also satisfy before anything is decided. */
export type ObservationChecks = {
  /** The processor account the news came from; it must be the credit note's payment's. Undefined: not checked. */
  account?: string | null;
  /**
   * The news is one delivery (a webhook event id, the `causationId`): once it
   * wrote anything, a redelivery changes nothing, whatever its body.
   */
  oncePerCause?: boolean;
  /** The credit note as the caller just read or decided it: decided on first, reloaded only if another writer got in between. */
  loaded?: KnownCreditNote;
};

/** The errors an observation can answer: the credit note unknown or unreadable, from another account, or raced too long. */
export type ObservationError =
  | CreditNoteNotFoundError
  | EventValidationError
  | AccountMismatchError
  | ConcurrencyError;

/**
 * Applies whatever the machine accepts of what `propose` derives from the
 * loaded state. Shared by webhooks, refreshes and the dispatcher recording a
 * processor's answer (which also completes its outbox claim), so they cannot
 * disagree.
 */
export function applyObservation(
  deps: LifecycleDeps,
  meta: CommandMeta,
  creditNoteId: string,
  propose: (state: CreditNoteState) => ProposedCreditNoteEvent[],
  checks?: ObservationChecks,
): Promise<Result<ObservationOutcome, ObservationError>>;
export function applyObservation(
  deps: LifecycleDeps,
  meta: CommandMeta,
  creditNoteId: string,
  propose: (state: CreditNoteState) => ProposedCreditNoteEvent[],
  checks: ObservationChecks,
  claim: OutboxClaim,
): Promise<Result<ObservationOutcome, ObservationError | OutboxClaimLostError>>;
export async function applyObservation(
  deps: LifecycleDeps,
  meta: CommandMeta,
  creditNoteId: string,
  propose: (state: CreditNoteState) => ProposedCreditNoteEvent[],
  checks: ObservationChecks = {},
  claim?: OutboxClaim,
): Promise<Result<ObservationOutcome, ObservationError | OutboxClaimLostError>> {
  let readByCaller = checks.loaded;
  const decide = (now: Date) =>
    safeTry(async function* () {
      const loaded = readByCaller ?? (yield* await loadIssuedCreditNote(deps, creditNoteId));
      readByCaller = undefined;
      const expectedAccount = loaded.state.context.payment?.account ?? null;
      if (checks.account !== undefined && checks.account !== expectedAccount) {
        return err(new AccountMismatchError(creditNoteId, expectedAccount, checks.account));
      }
      // A delivery that wrote to this stream says so in the events just read; only otherwise is the store asked.
      const recordedHere =
        meta.causationId !== null && eventsRead(loaded).some((event) => event.causationId === meta.causationId);
      const redelivered = checks.oncePerCause === true && (recordedHere || (await isCauseRecorded(deps, meta)));
      const change = redelivered
        ? startChange(loaded)
        : proposeAllowedEvents(startChange(loaded), propose(loaded.state), now.toISOString());
      return ok({ creditNotes: [change], result: change.events.length > 0 });
    });
  const executed = claim === undefined ? await executeCommand(deps, meta, decide) : await executeCommand(deps, meta, decide, claim);
  return executed.map((done) => ({ ...outcomeFor(creditNoteId, done), changed: done.result }));
}

/** The events a load read with its state; none when the caller handed in a state it decided. */
const eventsRead = (known: KnownCreditNote | LoadedCreditNote): readonly StoredEvent[] =>
  'events' in known ? (known as LoadedCreditNote).events : [];

/** Whether the delivery that caused this command already wrote something (then it is a redelivery). */
export const isCauseRecorded = async (deps: LifecycleDeps, meta: CommandMeta): Promise<boolean> =>
  meta.causationId !== null && (await deps.store.hasEventsCausedBy(meta.causationId));

/** The credit note attempt a processor refund belongs to: where it was first recorded, else what its metadata says. */
export type RefundOwner = { creditNoteId: string; attempt: number | null };

/**
 * A refund id once recorded on a credit note stays that credit note's: its
 * metadata can be edited or cleared at the processor afterwards, and must
 * never make it somebody else's (or a second, "external" one). Metadata only
 * speaks for refunds never recorded yet, such as one whose create answer was
 * lost on the way back.
 */
export const ownerOfRefund = async (deps: LifecycleDeps, refund: ProcessorRefund): Promise<RefundOwner | null> => {
  const link = await deps.store.findProcessorRefund({
    processor: deps.gateway.processor,
    processorRefundId: refund.processorRefundId,
  });
  if (link !== null) return { creditNoteId: link.creditNoteId, attempt: link.attempt };
  const { creditNoteId, attempt } = refund.metadata;
  return creditNoteId === null ? null : { creditNoteId, attempt };
};

/** Observes a refund on the credit note attempt it belongs to. */
export const observeOwnedRefund = (
  deps: LifecycleDeps,
  meta: CommandMeta,
  refund: ProcessorRefund,
  owner: RefundOwner,
  checks: ObservationChecks,
): Promise<Result<ObservationOutcome, ObservationError>> =>
  applyObservation(deps, meta, owner.creditNoteId, (state) => eventsForObservation(state, { ...refund, metadata: owner }), checks);

/** A processor's refund as a webhook or a refresh saw it. Duplicates and stale news write nothing. */
export const observeRefund = (deps: LifecycleDeps, rawInput: unknown) =>
  safeTry(async function* () {
    const input = yield* validateInput(observeRefundInputSchema, rawInput);
    const owner = await ownerOfRefund(deps, input.refund);
    if (owner === null) {
      return err(new ValidationError([{ path: 'refund.metadata.creditNoteId', message: 'names no credit note' }]));
    }
    const meta = commandMeta(deps, { ...input, actor: { kind: 'processor', id: deps.gateway.processor } });
    const checks = { ...(input.account === undefined ? {} : { account: input.account }), oncePerCause: true };
    return observeOwnedRefund(deps, meta, input.refund, owner, checks);
  });
