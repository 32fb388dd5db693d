import { err, ok, safeTry } from 'neverthrow';
import {
  CreditNoteAlreadyExistsError,
  RefundableBalanceExceededError,
  RefundWindowClosedError,
  ValidationError,
} from '../../errors.js';
import { committedAmount, type PaymentFacts } from '../../machine/paymentState.js';
import type { PaymentRef } from '../../events/primitives.js';
import type { ProcessorPayment, ProcessorRefund } from '../../ports/refundGateway.js';
import type { CreditNoteContext } from '../../machine/creditNoteState.js';
import { executeCommand, type PaymentChange, type Plan } from '../commandHandler.js';
import { issueCreditNoteInputSchema, validateInput } from '../commandInputs.js';
import { startChange } from '../creditNoteChange.js';
import type { LifecycleDeps } from '../deps.js';
import { nextRefundStep } from '../nextRefundStep.js';
import { loadCreditNotesOfPayment, releaseWaitingCreditNotes } from '../chargeGate.js';
import { authorizeOrRefuse } from '../authorization.js';
import type { CreditNoteChange } from '../creditNoteChange.js';
import { adoptionOf, externalCreditNoteId } from './adoptExternalRefund.js';
import { loadCreditNote, loadPayment, type KnownCreditNote, type LoadedCreditNote, type LoadedPayment } from '../streams.js';
import { commandMeta, outcomeFor, proposeOrConflict } from './commandSupport.js';

/** The first call's promise, shared by every later call. */
const once = <T>(call: () => Promise<T>): (() => Promise<T>) => {
  let answer: Promise<T> | undefined;
  return () => (answer ??= call());
};

export type IssueTerms = {
  creditNoteId: string;
  amount: number;
  currency: string;
  payment: PaymentRef | null;
  reason: string;
  origin: 'host';
};

const sameTerms = (context: CreditNoteContext, terms: IssueTerms): boolean =>
  context.amount === terms.amount &&
  context.currency === terms.currency &&
  context.reason === terms.reason &&
  JSON.stringify(context.payment) === JSON.stringify(terms.payment);

/**
 * Whether the processor can still refund this much of the payment: within its
 * refund window, in its currency, and within what was charged less every
 * credit note already issued against it (the payment stream serialises
 * concurrent issues, so two of them can never both take the last euro).
 */
const refundability = (
  paymentId: string,
  requested: { amount: number; currency: string },
  facts: PaymentFacts,
  committed: number,
  now: Date,
): RefundWindowClosedError | ValidationError | RefundableBalanceExceededError | null => {
  if (facts.refundableUntil !== null && now.getTime() > Date.parse(facts.refundableUntil)) {
    return new RefundWindowClosedError(paymentId, facts.method, facts.refundableUntil);
  }
  if (facts.currency !== null && facts.currency !== requested.currency) {
    return new ValidationError([
      { path: 'currency', message: `is ${requested.currency}, but payment ${paymentId} was charged in ${facts.currency}` },
    ]);
  }
  if (facts.amount !== null && committed + requested.amount > facts.amount) {
    return new RefundableBalanceExceededError(paymentId, facts.amount, committed, requested.amount);
  }
  return null;
};

/**
 * A dashboard refund that failed or was canceled at the processor gave
 * nothing back and will not be retried (only the library's own refunds are):
 * its amount is free again, unless the merchant records it as refunded by hand.
 */
const amountOfFailedDashboardRefunds = (siblings: readonly KnownCreditNote[]): number =>
  siblings
    .filter(({ state }) => state.context.origin === 'processor' && state.status === 'failed')
    .reduce((sum, { state }) => sum + state.context.amount, 0);

/**
 * Refunds of the payment made outside the library before it first heard of
 * the payment (Stripe's dashboard), not yet followed: adopted now, in the same
 * append, so the balance counts them once and their later events find them.
 */
/** The refunds made in the processor's dashboard before the library first looked at the payment, not yet followed. */
const loadEarlierRefunds = (deps: LifecycleDeps, payment: PaymentRef, atProcessor: ProcessorRefund[]) =>
  safeTry(async function* () {
    const earlier: EarlierRefund[] = [];
    for (const refund of atProcessor) {
      const external = refund.metadata.creditNoteId === null;
      if (!external || refund.status === 'failed' || refund.status === 'canceled') continue;
      const loaded = yield* await loadCreditNote(deps.store, externalCreditNoteId(payment.processor, refund.processorRefundId));
      if (loaded.state.status === 'unissued') earlier.push({ loaded, refund: { ...refund, paymentId: payment.paymentId } });
    }
    return ok(earlier);
  });

type EarlierRefund = { loaded: LoadedCreditNote; refund: ProcessorRefund };

/** The facts a `PaymentDescribed` records: the processor's answer without its id and its momentary confirmation. */
const paymentFactsOf = ({ amount, currency, method, refundableUntil }: ProcessorPayment): PaymentFacts => ({ amount, currency, method, refundableUntil });

/** What an issue on a processor payment reads before it decides. */
export type PaymentFactsForIssue = {
  payment: PaymentRef;
  stream: LoadedPayment;
  /** The credit notes already refunding the payment. */
  siblings: KnownCreditNote[];
  /** What the processor says was charged: from the stream, or asked now (`describedNow`). */
  described: PaymentFacts;
  describedNow: boolean;
  /** Dashboard refunds made before the library first looked at the payment (asked with the description). */
  earlier: EarlierRefund[];
  /** The host vouches for the charge (it saw the payment succeed). */
  hostConfirmed: boolean;
  /** The processor, asked because no confirmation was seen, says the charge is confirmed. */
  processorConfirmed: boolean;
};

/**
 * Pure: the credit note is issued and attached to its payment, within its
 * refundable balance and refund window; refund attempt 1 is requested, or
 * deferred while the charge is unconfirmed (docs/glossary.md#charge-confirmation-gate).
 * The same terms again decide nothing; other terms under the same id conflict.
 */
export const decideIssue = (creditNote: KnownCreditNote, terms: IssueTerms, facts: PaymentFactsForIssue | null, now: Date) =>
  safeTry(function* () {
    if (creditNote.state.status !== 'unissued') {
      return sameTerms(creditNote.state.context, terms)
        ? ok<Plan<null>>({ creditNotes: [startChange(creditNote)], result: null })
        : err(new CreditNoteAlreadyExistsError(terms.creditNoteId));
    }
    const issued = yield* proposeOrConflict(startChange(creditNote), { type: 'CreditNoteIssued', data: terms }, now, 'issue');
    if (facts === null) return ok<Plan<null>>({ creditNotes: [issued], result: null });
    const { payment, stream, siblings, described, describedNow } = facts;
    const earlier: CreditNoteChange[] = [];
    for (const { loaded, refund } of facts.earlier) earlier.push(yield* adoptionOf(loaded, refund, payment, now));
    const committed =
      committedAmount(stream.state) -
      amountOfFailedDashboardRefunds(siblings) +
      earlier.reduce((sum, adoption) => sum + adoption.state.context.amount, 0);
    const refusal = refundability(payment.paymentId, terms, described, committed, now);
    if (refusal !== null) return err(refusal);
    const confirmed = stream.state.chargeConfirmed || facts.hostConfirmed || facts.processorConfirmed;
    const change = yield* proposeOrConflict(issued, nextRefundStep(issued.state, confirmed), now, 'issue');
    // The host or the processor vouches for a charge we had not seen confirmed: that opens the gate for its siblings too.
    const confirmsNow = confirmed && !stream.state.chargeConfirmed;
    const released = confirmsNow ? yield* releaseWaitingCreditNotes(siblings, now) : [];
    const events: PaymentChange['events'] = [
      ...(describedNow && JSON.stringify(described) !== JSON.stringify(stream.state.facts) ? [{ type: 'PaymentDescribed' as const, data: described }] : []),
      ...(confirmsNow ? [{ type: 'ChargeConfirmed' as const, data: { paymentId: payment.paymentId, processor: payment.processor } }] : []),
      ...earlier.map(({ state: { context } }) => ({
        type: 'CreditNoteAttached' as const,
        data: { creditNoteId: context.creditNoteId, amount: context.amount, currency: context.currency },
      })),
      { type: 'CreditNoteAttached', data: { creditNoteId: terms.creditNoteId, amount: terms.amount, currency: terms.currency } },
    ];
    return ok<Plan<null>>({ creditNotes: [change, ...released, ...earlier], payments: [{ loaded: stream, events }], result: null });
  });

/**
 * The decision of an issue, for `executeCommand`: reads the credit note and
 * its payment, asks the processor what it must (at most once, however many
 * times a version conflict has it decide again), and plans the issue. An
 * approved refund request issues its credit note through this too.
 */
export const issuePlanner = (deps: LifecycleDeps, terms: IssueTerms, chargeConfirmed: boolean) => {
  const { creditNoteId, payment } = terms;
  // What the processor says of the payment is asked at most once per command: a version conflict decides again
  // with the same answers instead of asking again.
  const describePayment = payment === null ? null : once(() => deps.gateway.describePayment(payment));
  // Refunds made at the processor before the library first looked (dashboard refunds) join the ledger, where the
  // processor can list them; one that cannot be asked (Adyen) reports them by notification instead.
  const canList = deps.gateway.capabilities?.pullsRefundStatus !== false;
  const refundsAtProcessor =
    payment === null ? null : once(async () => (canList ? deps.gateway.findRefunds(payment) : ok<ProcessorRefund[], never>([])));

  return (now: Date) =>
    safeTry(async function* () {
      const read = yield* await loadCreditNote(deps.store, creditNoteId);
      if (payment === null || describePayment === null || refundsAtProcessor === null || read.state.status !== 'unissued') {
        return decideIssue(read, terms, null, now);
      }
      const stream = yield* await loadPayment(deps.store, payment.paymentId);
      // The two streams are read one after the other: a payment that already lists this credit note means another
      // writer issued it in between, so its own stream is read again rather than counting it twice.
      const attached = stream.state.creditNotes.some((attachment) => attachment.creditNoteId === creditNoteId);
      const creditNote = attached ? yield* await loadCreditNote(deps.store, creditNoteId) : read;
      if (creditNote.state.status !== 'unissued') return decideIssue(creditNote, terms, null, now);
      // A description without an amount (not charged yet) is asked again until the processor can say.
      const known = stream.state.facts?.amount != null ? stream.state.facts : null;
      // An unconfirmed charge is asked about too: webhooks confirm only payments that already have credit notes
      // (confirmCharge), so the processor's word at issue time is how a payment confirmed earlier opens the gate.
      const unconfirmed = !stream.state.chargeConfirmed && !chargeConfirmed;
      // Known facts make the question optional: a processor that cannot answer now leaves the credit note pending,
      // as before it was asked (the sweep asks again); without facts the answer is needed to guard the balance.
      const answer = known === null ? yield* await describePayment() : unconfirmed ? (await describePayment()).unwrapOr(null) : null;
      const facts: PaymentFactsForIssue = {
        payment,
        stream,
        siblings: yield* await loadCreditNotesOfPayment(deps, payment.paymentId, stream.state),
        // Asked once per payment, then read from its stream: the processor's word on what can be refunded.
        described: known ?? paymentFactsOf(answer!),
        describedNow: known === null,
        // The first time the library looks at a payment, refunds already made in the dashboard join the ledger.
        earlier: known === null ? yield* await loadEarlierRefunds(deps, payment, yield* await refundsAtProcessor()) : [],
        hostConfirmed: chargeConfirmed,
        processorConfirmed: answer?.chargeConfirmed === true,
      };
      return decideIssue(creditNote, terms, facts, now);
    });
};

/**
 * Issues a credit note and, when it refunds a processor payment, attaches it
 * to the payment's stream and asks for attempt 1 — or defers it while the
 * charge is unconfirmed (docs/glossary.md#charge-confirmation-gate). Issuing
 * the same terms again is a no-op.
 */
export const issueCreditNote = (deps: LifecycleDeps, rawInput: unknown) =>
  safeTry(async function* () {
    const input = yield* validateInput(issueCreditNoteInputSchema, rawInput);
    const { creditNoteId, amount, currency, reason, chargeConfirmed = false } = input;
    yield* await authorizeOrRefuse(deps, input.actor, 'issue', { creditNoteId, amount, currency, paymentId: input.payment?.paymentId ?? null });
    const processor = input.payment?.processor;
    if (processor !== undefined && processor !== deps.gateway.processor) {
      // Asking this gateway to refund another processor's payment id would fail at best, or hit the wrong payment.
      return err(
        new ValidationError([
          { path: 'payment.processor', message: `is ${processor}, but this lifecycle refunds through ${deps.gateway.processor}` },
        ]),
      );
    }
    const payment: PaymentRef | null =
      input.payment === null
        ? null
        : {
            processor: input.payment.processor ?? deps.gateway.processor,
            paymentId: input.payment.paymentId,
            account: input.payment.account ?? null,
          };
    const terms: IssueTerms = { creditNoteId, amount, currency, payment, reason, origin: 'host' };
    const executed = yield* await executeCommand(deps, commandMeta(deps, input), issuePlanner(deps, terms, chargeConfirmed));
    return ok(outcomeFor(creditNoteId, executed));
  });
