import { err, ok, type Result } from 'neverthrow';
import {
  CreditNoteAlreadyExistsError,
  RefundableBalanceExceededError,
  RefundWindowClosedError,
  ValidationError,
  type CommandError,
} from '../../errors.js';
import { committedAmount, type PaymentFacts } from '../../machine/paymentState.js';
import type { PaymentRef } from '../../events/primitives.js';
import type { GatewayError } from '../../errors.js';
import type { ProcessorRefund } from '../../ports/refundGateway.js';
import type { CreditNoteContext } from '../../machine/creditNoteState.js';
import { executeCommand, type PaymentChange, type Plan } from '../commandHandler.js';
import { issueCreditNoteInputSchema, validateInput } from '../commandInputs.js';
import { startChange } from '../creditNoteChange.js';
import type { LifecycleDeps } from '../deps.js';
import { nextRefundStep } from '../nextRefundStep.js';
import { loadCreditNotesOfPayment, releaseWaitingCreditNotes } from '../chargeGate.js';
import type { CreditNoteChange } from '../creditNoteChange.js';
import { adoptionOf, externalCreditNoteId } from './adoptExternalRefund.js';
import { loadCreditNote, loadPayment, type LoadedCreditNote } from '../streams.js';
import { commandMeta, outcomeFor, proposeOrConflict, withoutClaims, type CommandOutcome } from './commandSupport.js';

/** The first call's promise, shared by every later call. */
const once = <T>(call: () => Promise<T>): (() => Promise<T>) => {
  let answer: Promise<T> | undefined;
  return () => (answer ??= call());
};

type IssueTerms = {
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
): CommandError | null => {
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
const amountOfFailedDashboardRefunds = (siblings: readonly LoadedCreditNote[]): number =>
  siblings
    .filter(({ state }) => state.context.origin === 'processor' && state.status === 'failed')
    .reduce((sum, { state }) => sum + state.context.amount, 0);

/**
 * Refunds of the payment made outside the library before it first heard of
 * the payment (Stripe's dashboard), not yet followed: adopted now, in the same
 * append, so the balance counts them once and their later events find them.
 */
const adoptEarlierRefunds = async (
  deps: LifecycleDeps,
  payment: PaymentRef,
  atProcessor: Result<ProcessorRefund[], GatewayError>,
  now: Date,
): Promise<Result<CreditNoteChange[], CommandError>> => {
  if (atProcessor.isErr()) return err(atProcessor.error);
  const adoptions: CreditNoteChange[] = [];
  for (const refund of atProcessor.value) {
    const external = refund.metadata.creditNoteId === null;
    if (!external || refund.status === 'failed' || refund.status === 'canceled') continue;
    const loaded = await loadCreditNote(deps.store, externalCreditNoteId(payment.processor, refund.processorRefundId));
    if (loaded.isErr()) return err(loaded.error);
    if (loaded.value.state.status !== 'unissued') continue;
    const adoption = adoptionOf(loaded.value, { ...refund, paymentId: payment.paymentId }, payment, now);
    if (adoption.isErr()) return err(adoption.error);
    adoptions.push(adoption.value);
  }
  return ok(adoptions);
};

/**
 * Issues a credit note and, when it refunds a processor payment, attaches it
 * to the payment's stream and asks for attempt 1 — or defers it while the
 * charge is unconfirmed (docs/glossary.md#charge-confirmation-gate). Issuing
 * the same terms again is a no-op.
 */
export const issueCreditNote = async (
  deps: LifecycleDeps,
  rawInput: unknown,
): Promise<Result<CommandOutcome, CommandError>> => {
  const input = validateInput(issueCreditNoteInputSchema, rawInput);
  if (input.isErr()) return err(input.error);
  const { creditNoteId, amount, currency, reason, chargeConfirmed = false } = input.value;
  const processor = input.value.payment?.processor;
  if (processor !== undefined && processor !== deps.gateway.processor) {
    // Asking this gateway to refund another processor's payment id would fail at best, or hit the wrong payment.
    return err(
      new ValidationError([
        { path: 'payment.processor', message: `is ${processor}, but this lifecycle refunds through ${deps.gateway.processor}` },
      ]),
    );
  }
  const payment: PaymentRef | null =
    input.value.payment === null
      ? null
      : {
          processor: input.value.payment.processor ?? deps.gateway.processor,
          paymentId: input.value.payment.paymentId,
          account: input.value.payment.account ?? null,
        };
  const terms: IssueTerms = { creditNoteId, amount, currency, payment, reason, origin: 'host' };
  // What the processor says of the payment is asked at most once per command: a version conflict decides again
  // with the same answers instead of asking again.
  const askProcessor =
    payment === null
      ? null
      : { describePayment: once(() => deps.gateway.describePayment(payment)), refunds: once(() => deps.gateway.findRefunds(payment)) };

  const executed = await executeCommand(
    deps,
    commandMeta(deps, input.value),
    async (now): Promise<Result<Plan<null>, CommandError>> => {
      const loaded = await loadCreditNote(deps.store, creditNoteId);
      if (loaded.isErr()) return err(loaded.error);
      if (loaded.value.state.status !== 'unissued') {
        return sameTerms(loaded.value.state.context, terms)
          ? ok({ creditNotes: [startChange(loaded.value)], result: null })
          : err(new CreditNoteAlreadyExistsError(creditNoteId));
      }
      const issued = proposeOrConflict(startChange(loaded.value), { type: 'CreditNoteIssued', data: terms }, now, 'issue');
      if (issued.isErr()) return err(issued.error);
      if (payment === null) return ok({ creditNotes: [issued.value], result: null });

      const paymentStream = await loadPayment(deps.store, payment.paymentId);
      if (paymentStream.isErr()) return err(paymentStream.error);
      const stored = paymentStream.value.state.facts;
      // A description without an amount (not charged yet) is asked again until the processor can say.
      const known = stored !== null && stored.amount !== null ? stored : null;
      // Asked once per payment, then read from its stream: the processor's word on what can be refunded.
      const described: Result<PaymentFacts, CommandError> =
        known !== null
          ? ok(known)
          : (await askProcessor!.describePayment()).map(({ paymentId: _described, ...facts }) => facts);
      if (described.isErr()) return err(described.error);
      const siblings = await loadCreditNotesOfPayment(deps, paymentStream.value.state);
      if (siblings.isErr()) return err(siblings.error);
      // The first time the library looks at a payment, refunds already made in the dashboard join the ledger.
      const earlier = known === null ? await adoptEarlierRefunds(deps, payment, await askProcessor!.refunds(), now) : ok([]);
      if (earlier.isErr()) return err(earlier.error);
      const committed =
        committedAmount(paymentStream.value.state) -
        amountOfFailedDashboardRefunds(siblings.value) +
        earlier.value.reduce((sum, adoption) => sum + adoption.state.context.amount, 0);
      const refusal = refundability(payment.paymentId, { amount, currency }, described.value, committed, now);
      if (refusal !== null) return err(refusal);
      const confirmed = paymentStream.value.state.chargeConfirmed || chargeConfirmed;
      const change = proposeOrConflict(issued.value, nextRefundStep(issued.value.state, confirmed), now, 'issue');
      if (change.isErr()) return err(change.error);
      // The host vouches for a charge we had not seen confirmed: that opens the gate for its siblings too.
      const confirmsNow = confirmed && !paymentStream.value.state.chargeConfirmed;
      const released = confirmsNow ? releaseWaitingCreditNotes(siblings.value, now) : ok([]);
      if (released.isErr()) return err(released.error);
      const paymentChange: PaymentChange = {
        loaded: paymentStream.value,
        events: [
          ...(known === null && JSON.stringify(described.value) !== JSON.stringify(stored)
            ? [
                {
                  type: 'PaymentDescribed' as const,
                  data: described.value,
                },
              ]
            : []),
          ...(confirmsNow
            ? [{ type: 'ChargeConfirmed' as const, data: { paymentId: payment.paymentId, processor: payment.processor } }]
            : []),
          ...earlier.value.map(({ state: { context } }) => ({
            type: 'CreditNoteAttached' as const,
            data: { creditNoteId: context.creditNoteId, amount: context.amount, currency: context.currency },
          })),
          { type: 'CreditNoteAttached', data: { creditNoteId, amount, currency } },
        ],
      };
      return ok({
        creditNotes: [change.value, ...released.value, ...earlier.value],
        payments: [paymentChange],
        result: null,
      });
    },
  );
  return withoutClaims(executed).map((done) => outcomeFor(creditNoteId, done));
};
