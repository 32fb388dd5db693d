import { beforeEach, describe, expect, it } from 'vitest';
import type { ResultAsync } from 'neverthrow';
import {
  CreditNoteAlreadyExistsError,
  CreditNoteNotFoundError,
  ValidationError,
  type RefundLifecycleError,
} from '../src/errors.js';
import {
  actor,
  buildFixture,
  errValue,
  issueInput,
  okValue,
  sideEffectCounts,
  storeSnapshot,
  type Fixture,
} from './support/fixtures.js';

/*
 * Bad input is refused before anything is read from the processor or written
 * to the store: the host gets a ValidationError naming the offending field,
 * and the world is exactly as it was.
 */

// Inputs are cast `as never` on purpose: hosts forward untyped request bodies, which the types cannot stop.

let fx: Fixture;

/**
 * A world in which every valid command would write something or call out:
 * a failed credit note (retry, mark refunded), one whose refund Stripe has
 * settled without telling us (refresh, webhook) and one waiting for its
 * charge confirmation (confirm charge).
 */
beforeEach(async () => {
  fx = buildFixture();
  fx.gateway.queue({ kind: 'fail', reason: 'insufficient_funds' });
  expect(okValue(await fx.lifecycle.issueCreditNote(issueInput({ creditNoteId: 'cn_failed' }))).status).toBe('failed');
  expect(okValue(await fx.lifecycle.issueCreditNote(issueInput({ creditNoteId: 'cn_requested' }))).status).toBe(
    'requested',
  );
  fx.gateway.setRefundStatus('re_fake_2', 'succeeded');
  expect(
    okValue(
      await fx.lifecycle.issueCreditNote(
        issueInput({ creditNoteId: 'cn_waiting', payment: { paymentId: 'pi_waiting' }, chargeConfirmed: false }),
      ),
    ).status,
  ).toBe('pending');
});

const expectUntouchedAfter = async (run: () => ResultAsync<unknown, RefundLifecycleError>) => {
  const before = await storeSnapshot(fx.store);
  const effects = sideEffectCounts(fx);
  const error = errValue(await run());
  expect(await storeSnapshot(fx.store)).toEqual(before);
  expect(sideEffectCounts(fx)).toEqual(effects);
  return error;
};

const expectRefused = async (run: () => ResultAsync<unknown, RefundLifecycleError>, path: string) => {
  const error = await expectUntouchedAfter(run);
  expect(error).toBeInstanceOf(ValidationError);
  expect(error.code).toBe('validation_failed');
  expect((error as ValidationError).issues[0]?.path).toBe(path);
};

/** A webhook's refund for cn_requested that, if accepted, would settle it. */
const settledRefund = () => ({
  processorRefundId: 're_fake_2',
  paymentId: 'pi_1',
  amount: 5_000,
  currency: 'eur',
  status: 'succeeded',
  failure: null,
  metadata: { creditNoteId: 'cn_requested', attempt: 1 },
});

describe('issueCreditNote refuses bad input', () => {
  // A new credit note on a confirmed charge: valid, it would write events and call the processor.
  const newIssue = (changes: Record<string, unknown>) => ({ ...issueInput({ creditNoteId: 'cn_new' }), ...changes });
  const without = (key: string) => {
    const input: Record<string, unknown> = { ...issueInput({ creditNoteId: 'cn_new' }) };
    delete input[key];
    return input;
  };
  it.each<[string, string, unknown]>([
    ['a fractional amount', 'amount', newIssue({ amount: 12.5 })],
    ['a zero amount', 'amount', newIssue({ amount: 0 })],
    ['a negative amount', 'amount', newIssue({ amount: -1 })],
    ['an amount given as a string', 'amount', newIssue({ amount: '100' })],
    ['an absurdly large amount', 'amount', newIssue({ amount: 1e12 })],
    ['a missing amount', 'amount', without('amount')],
    ['a four-letter currency', 'currency', newIssue({ currency: 'EURO' })],
    ['a currency with a digit', 'currency', newIssue({ currency: 'EU1' })],
    ['an empty creditNoteId', 'creditNoteId', { ...issueInput(), creditNoteId: '' }],
    ['a creditNoteId with spaces', 'creditNoteId', { ...issueInput(), creditNoteId: 'cn new' }],
    ['a creditNoteId of 256 characters', 'creditNoteId', { ...issueInput(), creditNoteId: 'c'.repeat(256) }],
    ['a missing actor', 'actor', without('actor')],
    ['an actor of an unknown kind', 'actor.kind', newIssue({ actor: { kind: 'robot', id: 'r1' } })],
    ['an actor with an empty id', 'actor.id', newIssue({ actor: { kind: 'user', id: '' } })],
    ['a missing payment (null must be said)', 'payment', without('payment')],
    ['an empty paymentId', 'payment.paymentId', newIssue({ payment: { paymentId: '' } })],
    [
      'a Connect account with spaces',
      'payment.account',
      newIssue({ payment: { paymentId: 'pi_1', account: 'acct 1' } }),
    ],
    ['an empty reason', 'reason', newIssue({ reason: '' })],
    ['a whitespace reason', 'reason', newIssue({ reason: '   ' })],
    ['chargeConfirmed as a string', 'chargeConfirmed', newIssue({ chargeConfirmed: 'yes' })],
    ['an empty correlationId', 'correlationId', newIssue({ correlationId: '' })],
    ['an unknown top-level key (strict)', 'refundNow', newIssue({ refundNow: true })],
    [
      'an unknown key inside payment (strict)',
      'payment.customer',
      newIssue({ payment: { paymentId: 'pi_1', customer: 'cus_1' } }),
    ],
    ['no input object at all', '', null],
  ])('%s → ValidationError at `%s`', async (_, path, input) => {
    await expectRefused(() => fx.lifecycle.issueCreditNote(input as never), path);
  });
});

describe('retryRefund refuses bad input', () => {
  it.each<[string, string, unknown, unknown]>([
    ['an empty creditNoteId', 'creditNoteId', '', { actor }],
    ['a creditNoteId with spaces', 'creditNoteId', 'cn failed', { actor }],
    ['a creditNoteId that is not a string', 'creditNoteId', 42, { actor }],
    ['a missing actor', 'actor', 'cn_failed', {}],
    ['an actor of an unknown kind', 'actor.kind', 'cn_failed', { actor: { kind: 'admin', id: 'a1' } }],
    ['an unknown key (strict)', 'amount', 'cn_failed', { actor, amount: 10 }],
    ['no input object at all', '', 'cn_failed', undefined],
  ])('%s → ValidationError at `%s`', async (_, path, creditNoteId, input) => {
    await expectRefused(() => fx.lifecycle.retryRefund(creditNoteId as never, input as never), path);
  });
});

describe('markRefunded refuses bad input', () => {
  it.each<[string, string, unknown, unknown]>([
    ['an empty reason', 'reason', 'cn_failed', { reason: '', actor }],
    ['a whitespace reason', 'reason', 'cn_failed', { reason: ' \t\n ', actor }],
    ['a missing reason', 'reason', 'cn_failed', { actor }],
    ['a reason of 1001 characters', 'reason', 'cn_failed', { reason: 'r'.repeat(1001), actor }],
    ['an empty reference', 'reference', 'cn_failed', { reason: 'SEPA transfer', reference: '', actor }],
    ['an unknown method', 'method', 'cn_failed', { reason: 'SEPA transfer', method: 'bitcoin', actor }],
    ['a missing actor', 'actor', 'cn_failed', { reason: 'SEPA transfer' }],
    ['an unknown key (strict)', 'notifyClient', 'cn_failed', { reason: 'SEPA transfer', actor, notifyClient: false }],
    ['an empty creditNoteId', 'creditNoteId', '', { reason: 'SEPA transfer', actor }],
    ['a creditNoteId with spaces', 'creditNoteId', 'cn failed', { reason: 'SEPA transfer', actor }],
  ])('%s → ValidationError at `%s`', async (_, path, creditNoteId, input) => {
    await expectRefused(() => fx.lifecycle.markRefunded(creditNoteId as never, input as never), path);
  });
});

describe('confirmCharge refuses bad input', () => {
  it.each<[string, string, unknown]>([
    ['an empty paymentId', 'paymentId', { paymentId: '' }],
    ['a paymentId with spaces', 'paymentId', { paymentId: 'pi waiting' }],
    ['a missing paymentId', 'paymentId', { source: 'webhook' }],
    ['an unknown source', 'source', { paymentId: 'pi_waiting', source: 'email' }],
    ['an empty causationId', 'causationId', { paymentId: 'pi_waiting', causationId: '' }],
    ['a processor with spaces', 'processor', { paymentId: 'pi_waiting', processor: 'my stripe' }],
    ['an unknown key (strict)', 'amount', { paymentId: 'pi_waiting', amount: 5_000 }],
  ])('%s → ValidationError at `%s`', async (_, path, input) => {
    await expectRefused(() => fx.lifecycle.confirmCharge(input as never), path);
  });
});

describe('observeRefund refuses bad input', () => {
  const withRefund = (changes: Record<string, unknown>) => ({
    refund: { ...settledRefund(), ...changes },
    source: 'webhook',
    causationId: 'evt_1',
  });
  it.each<[string, string, unknown]>([
    [
      // A refund never recorded on a credit note: only its metadata could name one.
      'metadata naming no credit note',
      'refund.metadata.creditNoteId',
      withRefund({ processorRefundId: 're_never_recorded', metadata: { creditNoteId: null, attempt: 1 } }),
    ],
    ['a fractional amount', 'refund.amount', withRefund({ amount: 12.5 })],
    ['a five-letter currency', 'refund.currency', withRefund({ currency: 'euros' })],
    ['an unknown processor status', 'refund.status', withRefund({ status: 'done' })],
    ['attempt 0', 'refund.metadata.attempt', withRefund({ metadata: { creditNoteId: 'cn_requested', attempt: 0 } })],
    ['an empty processorRefundId', 'refund.processorRefundId', withRefund({ processorRefundId: '' })],
    [
      'a failure with an unknown classification',
      'refund.failure.classification.retry',
      withRefund({
        status: 'failed',
        failure: { reason: 'declined', classification: { retry: 'sometimes', recovery: 'retry' }, message: 'no' },
      }),
    ],
    ['an unknown source', 'source', { ...withRefund({}), source: 'email' }],
    ['a missing refund', 'refund', { source: 'webhook' }],
    ['an unknown key in the refund (strict)', 'refund.charge', withRefund({ charge: 'ch_1' })],
    ['an unknown top-level key (strict)', 'signature', { ...withRefund({}), signature: 'sig' }],
  ])('%s → ValidationError at `%s`', async (_, path, input) => {
    await expectRefused(() => fx.lifecycle.observeRefund(input as never), path);
  });
});

describe('refreshStatus refuses bad input', () => {
  it.each<[string, string, unknown, unknown]>([
    ['an empty creditNoteId', 'creditNoteId', '', {}],
    ['a creditNoteId with spaces', 'creditNoteId', 'cn requested', {}],
    ['an actor with an empty id', 'actor.id', 'cn_requested', { actor: { kind: 'user', id: '' } }],
    ['an unknown key (strict)', 'force', 'cn_requested', { force: true }],
  ])('%s → ValidationError at `%s`', async (_, path, creditNoteId, input) => {
    await expectRefused(() => fx.lifecycle.refreshStatus(creditNoteId as never, input as never), path);
  });
});

describe('reads refuse bad input', () => {
  it.each<[string, unknown]>([
    ['an empty creditNoteId', ''],
    ['a creditNoteId with spaces', 'cn failed'],
    ['a creditNoteId that is not a string', 42],
  ])('getCreditNote and history: %s → ValidationError at `creditNoteId`', async (_, creditNoteId) => {
    await expectRefused(() => fx.lifecycle.getCreditNote(creditNoteId as never), 'creditNoteId');
    await expectRefused(() => fx.lifecycle.history(creditNoteId as never), 'creditNoteId');
  });

  it.each<[string, string, unknown]>([
    ['limit 0', 'limit', { limit: 0 }],
    ['limit 501', 'limit', { limit: 501 }],
    ['a fractional limit', 'limit', { limit: 1.5 }],
    ['the internal status unissued', 'status', { status: 'unissued' }],
    ['an unknown status', 'status', { status: 'refunded' }],
    ['a cursor with spaces', 'after', { after: 'cn a' }],
    ['an unknown key (strict)', 'sort', { sort: 'amount' }],
  ])('listCreditNotes: %s → ValidationError at `%s`', async (_, path, filter) => {
    await expectRefused(() => fx.lifecycle.listCreditNotes(filter as never), path);
  });
});

describe('a credit note that does not exist', () => {
  it.each<[string, (id: string) => ResultAsync<unknown, RefundLifecycleError>]>([
    ['retryRefund', (id) => fx.lifecycle.retryRefund(id, { actor })],
    ['markRefunded', (id) => fx.lifecycle.markRefunded(id, { reason: 'SEPA transfer', actor })],
    ['refreshStatus', (id) => fx.lifecycle.refreshStatus(id, { actor })],
    ['getCreditNote', (id) => fx.lifecycle.getCreditNote(id)],
    ['history', (id) => fx.lifecycle.history(id)],
    [
      'observeRefund (a webhook for a refund made elsewhere)',
      (id) =>
        fx.lifecycle.observeRefund({
          refund: { ...settledRefund(), processorRefundId: 're_never_recorded', metadata: { creditNoteId: id, attempt: 1 } },
          source: 'webhook',
        } as never),
    ],
  ])('%s → CreditNoteNotFoundError naming it, nothing written', async (_, run) => {
    const error = await expectUntouchedAfter(() => run('cn_unknown'));
    expect(error).toBeInstanceOf(CreditNoteNotFoundError);
    expect(error.code).toBe('credit_note_not_found');
    expect((error as CreditNoteNotFoundError).creditNoteId).toBe('cn_unknown');
  });
});

describe('issuing an id that is already taken', () => {
  it('with the same terms is an idempotent Ok that writes and sends nothing new', async () => {
    const before = await storeSnapshot(fx.store);
    const effects = sideEffectCounts(fx);
    // Same terms as cn_requested, spelled differently: lower-case currency, the processor and account made explicit.
    const again = await fx.lifecycle.issueCreditNote(
      issueInput({
        creditNoteId: 'cn_requested',
        currency: 'eur',
        payment: { paymentId: 'pi_1', processor: 'fake', account: null },
        correlationId: 'double-click',
      }),
    );
    expect(okValue(again)).toMatchObject({ creditNoteId: 'cn_requested', status: 'requested', attempt: 1 });
    expect(await storeSnapshot(fx.store)).toEqual(before);
    expect(sideEffectCounts(fx)).toEqual(effects);
  });

  it.each<[string, Parameters<typeof issueInput>[0]]>([
    ['another amount', { amount: 4_999 }],
    ['another currency', { currency: 'USD' }],
    ['another reason', { reason: 'duplicate invoice' }],
    ['another payment', { payment: { paymentId: 'pi_2' } }],
    ['another Connect account', { payment: { paymentId: 'pi_1', account: 'acct_2' } }],
    ['no processor payment', { payment: null }],
  ])('with %s → CreditNoteAlreadyExistsError, nothing written', async (_, change) => {
    const error = await expectUntouchedAfter(() =>
      fx.lifecycle.issueCreditNote(issueInput({ creditNoteId: 'cn_requested', ...change })),
    );
    expect(error).toBeInstanceOf(CreditNoteAlreadyExistsError);
    expect(error.code).toBe('credit_note_exists');
    expect((error as CreditNoteAlreadyExistsError).creditNoteId).toBe('cn_requested');
  });
});
