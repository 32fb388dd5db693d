import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Actor } from '../src/events/primitives.js';
import type { AuthorizationSubject, LifecycleAction } from '../src/lifecycle/authorization.js';
import { createRefundLifecycle } from '../src/lifecycle/createRefundLifecycle.js';
import { fakeGateway, inMemoryEventStore, manualClock, recordingNotifier } from '../src/testing/index.js';
import { numRuns } from './support/numRuns.js';

/*
 * Who may refund (seed 003: "Only Owners, Admins, and Custom roles with
 * permission Billing > Charges > Refund Charge can make refunds"): the host's
 * `authorize` hook is asked before any decision, and a refusal is a typed
 * `forbidden` with nothing read, written, refunded or sent.
 */

type Role = 'owner' | 'admin' | 'billing_refunder' | 'viewer';
const roles: Record<string, Role> = { u_owner: 'owner', u_admin: 'admin', u_custom: 'billing_refunder', u_viewer: 'viewer' };
const permissions: Record<Role, ReadonlySet<string>> = {
  owner: new Set(['billing.charges.refund_charge']),
  admin: new Set(['billing.charges.refund_charge']),
  billing_refunder: new Set(['billing.charges.refund_charge']),
  viewer: new Set(),
};
/** The README's example: every refund decision needs Billing > Charges > Refund Charge; the system may refresh. */
const authorize = (actor: Actor, action: LifecycleAction, _subject: AuthorizationSubject) => {
  if (actor.kind === 'system' && action === 'refresh') return true;
  const role = roles[actor.id];
  return actor.kind === 'user' && role !== undefined && permissions[role].has('billing.charges.refund_charge');
};

const system = (hook = authorize) => {
  const store = inMemoryEventStore();
  const gateway = fakeGateway();
  const notifier = recordingNotifier();
  const clock = manualClock('2026-03-02T09:00:00.000Z');
  const calls: Array<[string, LifecycleAction]> = [];
  const lifecycle = createRefundLifecycle({
    store,
    gateway,
    notifier,
    clock,
    authorize: (actor, action, subject) => {
      calls.push([actor.id, action]);
      return hook(actor, action, subject);
    },
  });
  return { store, gateway, notifier, lifecycle, calls };
};

const issueAs = (id: string, creditNoteId = 'cn_1') => ({
  creditNoteId,
  amount: 2_000,
  currency: 'EUR',
  reason: 'Returned',
  payment: { paymentId: `pi_${creditNoteId}` },
  chargeConfirmed: true,
  actor: { kind: 'user', id } as const,
});

describe('authorize', () => {
  it('lets the roles with Refund Charge decide, and refuses a viewer with forbidden, nothing written', async () => {
    const s = system();
    expect((await s.lifecycle.issueCreditNote(issueAs('u_custom')))._unsafeUnwrap().status).toBe('requested');
    const before = await s.store.readAll();
    const refused = (await s.lifecycle.issueCreditNote(issueAs('u_viewer', 'cn_2')))._unsafeUnwrapErr();
    expect(refused).toMatchObject({ code: 'forbidden', action: 'issue', creditNoteId: 'cn_2', actor: { id: 'u_viewer' } });
    for (const result of [
      await s.lifecycle.retryRefund('cn_1', { actor: { kind: 'user', id: 'u_viewer' } }),
      await s.lifecycle.markRefunded('cn_1', { reason: 'Paid back in cash', actor: { kind: 'user', id: 'u_viewer' } }),
      await s.lifecycle.refreshStatus('cn_1', { actor: { kind: 'user', id: 'u_viewer' } }),
    ]) {
      expect(result._unsafeUnwrapErr()).toMatchObject({ code: 'forbidden' });
    }
    expect(await s.store.readAll()).toEqual(before);
    expect(s.gateway.refunds()).toHaveLength(1);
    // A refresh without a person is the system's, which this host allows.
    expect((await s.lifecycle.refreshStatus('cn_1')).isOk()).toBe(true);
  });

  it('is asked after validation and before anything else: bad input is a validation error, not a question', async () => {
    const s = system();
    const invalid = await s.lifecycle.issueCreditNote({ ...issueAs('u_owner'), amount: -1 });
    expect(invalid._unsafeUnwrapErr()).toMatchObject({ code: 'validation_failed' });
    expect(s.calls).toEqual([]);
    await s.lifecycle.retryRefund('cn_missing', { actor: { kind: 'user', id: 'u_viewer' } });
    expect(s.calls).toEqual([['u_viewer', 'retry']]);
  });

  it('allows everything by default, and refuses when the hook answers anything but true or throws', async () => {
    const open = createRefundLifecycle({ store: inMemoryEventStore(), gateway: fakeGateway() });
    expect((await open.issueCreditNote(issueAs('anyone'))).isOk()).toBe(true);
    const sloppy = system((() => 'yes') as never);
    expect((await sloppy.lifecycle.issueCreditNote(issueAs('u_owner')))._unsafeUnwrapErr()).toMatchObject({ code: 'forbidden' });
    const broken = system(() => {
      throw new Error('the permissions service is down');
    });
    expect((await broken.lifecycle.issueCreditNote(issueAs('u_owner')))._unsafeUnwrapErr()).toMatchObject({ code: 'unexpected_error' });
    expect(await broken.store.readAll()).toEqual([]);
  });

  it('never lets a forbidden actor write, refund or notify, whatever the sequence of decisions', async () => {
    const actors = fc.constantFrom('u_owner', 'u_custom', 'u_viewer', 'u_stranger');
    const decision = fc.record({
      action: fc.constantFrom('issue', 'retry', 'mark_refunded', 'refresh') as fc.Arbitrary<LifecycleAction>,
      actor: actors,
      creditNote: fc.constantFrom('cn_1', 'cn_2'),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(decision, { maxLength: 12 }), async (decisions) => {
        const s = system();
        for (const { action, actor: id, creditNote } of decisions) {
          const actor = { kind: 'user', id } as const;
          const allowed = authorize(actor, action, { creditNoteId: creditNote });
          const before = await s.store.readAll();
          const refundsBefore = s.gateway.refunds().length;
          const sentBefore = s.notifier.calls.length;
          const result =
            action === 'issue'
              ? await s.lifecycle.issueCreditNote(issueAs(id, creditNote))
              : action === 'retry'
                ? await s.lifecycle.retryRefund(creditNote, { actor })
                : action === 'mark_refunded'
                  ? await s.lifecycle.markRefunded(creditNote, { reason: 'Cash', actor })
                  : await s.lifecycle.refreshStatus(creditNote, { actor });
          if (!allowed) {
            expect(result._unsafeUnwrapErr()).toMatchObject({ code: 'forbidden' });
            expect(await s.store.readAll()).toEqual(before);
            expect(s.gateway.refunds()).toHaveLength(refundsBefore);
            expect(s.notifier.calls).toHaveLength(sentBefore);
          } else if (result.isErr()) {
            expect(result.error.code).not.toBe('forbidden');
          }
        }
      }),
      { numRuns: numRuns(100) },
    );
  });
});
