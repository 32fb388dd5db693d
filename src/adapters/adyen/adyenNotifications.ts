import { err, ok, ResultAsync, safeTry, type Result } from 'neverthrow';
import { z } from 'zod';
import { RefundLifecycleError, UnexpectedError, type CommandError, type ValidationIssue } from '../../errors.js';
import { fastSafeParse } from '../../events/compileSchema.js';
import { toValidationIssues } from '../../events/validationIssues.js';
import type { CreditNoteView } from '../../lifecycle/creditNoteView.js';
import type { RefundLifecycle } from '../../lifecycle/createRefundLifecycle.js';
import type { Logger } from '../../observability/logger.js';
import type { Telemetry } from '../../observability/telemetry.js';
import { recordWebhookOutcome } from '../../observability/webhooks.js';
import type { ProcessorRefund } from '../../ports/refundGateway.js';
import { newHmacValidator } from './adyenLibrary.js';
import { adyenFailureReasonOf, adyenFailureReasons, classificationOf, type AdyenFailureReason } from './failureReasons.js';
import { matchesReference, parseAdyenReference } from './references.js';

/*
 * Adyen's standard notifications: a POST of `{ live, notificationItems: [{ NotificationRequestItem }] }`, each
 * item signed on its own (HMAC-SHA256 of pspReference, originalReference, merchantAccountCode, merchantReference,
 * amount, eventCode and success, in `additionalData.hmacSignature`). Adyen sends one item per POST unless told
 * otherwise, delivers at least once, keeps a POST it did not see acknowledged (any 2xx; `[accepted]` for older
 * setups) in a queue and sends it again, in no guaranteed order.
 */

export type AdyenNotificationRejection =
  /** The body is a string or Buffer that is not JSON. */
  | 'payload_not_json'
  /** Not a batch of standard notifications, or an item without the fields Adyen always sends. */
  | 'payload_invalid'
  /** An item carries no `additionalData.hmacSignature`: HMAC signing is not switched on for this webhook. */
  | 'hmac_missing'
  /** An item's signature does not match its fields and the configured key (forged, tampered, or the wrong key). */
  | 'hmac_invalid'
  /** The batch's `live` differs from the configured mode. */
  | 'live_mismatch';

/**
 * A batch the library refuses to act on; nothing of it was written. Answer
 * it with a 401 (`hmac_*`) or 400: Adyen keeps a batch it did not see
 * acknowledged and sends it again, so items refused because of a
 * misconfiguration (a rotated HMAC key, the wrong mode) are applied once the
 * setup is fixed, and forged ones never are.
 */
export class AdyenNotificationRejectedError extends RefundLifecycleError {
  readonly code = 'webhook_rejected' as const;
  constructor(
    /** Stable: which check failed. */
    readonly reason: AdyenNotificationRejection,
    message: string,
    options?: { cause?: unknown; issues?: readonly ValidationIssue[]; itemIndex?: number | null },
  ) {
    super(message, options);
    this.issues = options?.issues ?? [];
    this.itemIndex = options?.itemIndex ?? null;
  }
  /** For `payload_invalid`: every field that is not as Adyen sends it. */
  readonly issues: readonly ValidationIssue[];
  /** The position in `notificationItems` of the item that failed the check; null for the batch itself. */
  readonly itemIndex: number | null;
}

export type AdyenNotificationsOptions = {
  lifecycle: RefundLifecycle;
  /** The webhook's HMAC key, as the Customer Area shows it (hexadecimal). */
  hmacKey: string;
  /** The merchant account `adyenGateway` refunds on by default: payments on it have `account: null`. */
  merchantAccount: string;
  /**
   * Further merchant accounts whose notifications this endpoint takes (a company-level webhook): payments on them
   * name their account in `payment.account`. Signed items of any account not listed are acknowledged and ignored
   * (`merchant_account_not_served`): they are another application's business.
   */
  accounts?: readonly string[];
  /**
   * Which notification confirms the charge (the charge-confirmation gate). `authorisation` (default, for merchant
   * accounts that capture automatically): a successful AUTHORISATION, or a CAPTURE. `capture` (manual capture): only
   * a successful CAPTURE; an AUTHORISATION is acknowledged and ignored (`authorisation_not_capture`).
   */
  confirmChargeOn?: 'authorisation' | 'capture';
  /** Notifications of the other mode are refused. Default false (test). */
  live?: boolean;
  /** Follow refunds made in the Customer Area as credit notes of processor origin. Default true. */
  adoptExternalRefunds?: boolean;
  /** Where each item is logged (pino's signature); silent by default. */
  logger?: Logger;
  /** Spans and metrics (`refund-lifecycle/opentelemetry`); none by default. */
  telemetry?: Telemetry;
};

export type AdyenNotificationDelivery = {
  /** The request body: parsed JSON, or the raw string / Buffer (the signature covers item fields, not the bytes). */
  body: unknown;
};

/** What one item did. */
export type AdyenItemOutcome = {
  /** Its position in `notificationItems`. */
  index: number;
  eventCode: string;
  pspReference: string;
  /** `adyen:<eventCode>:<pspReference>:<success>`: the causation of what it wrote, the same on every redelivery. */
  causationId: string;
  /** `applied`: something new was recorded; `unchanged`: already known; `ignored`: not the lifecycle's business. */
  outcome: 'applied' | 'unchanged' | 'ignored';
  /**
   * Why an item was ignored: `unhandled_event_code`, `merchant_account_not_served` (signed, but for a merchant
   * account this endpoint was not given), `unsuccessful_event` (an AUTHORISATION or CAPTURE that failed),
   * `authorisation_not_capture` (an AUTHORISATION with `confirmChargeOn: 'capture'`), `payment_cancelled` (a
   * CANCEL_OR_REFUND whose action was `cancel`: an uncaptured payment was released, no money moved),
   * `no_payment`, `unknown_payment`, `unknown_credit_note`, `external_refund` (adoption off),
   * `external_refund_failed` (a refund made outside the library that failed before it was ever followed),
   * `account_mismatch` (genuine, but the credit note's payment is on another merchant account),
   * `unprocessable_event` (genuine, but the lifecycle cannot take it, e.g. a zero amount).
   */
  reason: string | null;
  creditNoteIds: string[];
};

/** Every item applied, already known or ignored: acknowledge. */
export type AdyenBatchOutcome = {
  items: AdyenItemOutcome[];
  /** The answer Adyen expects: any 2xx, with `[accepted]` for setups that still read the body. */
  answer: { status: 200; body: '[accepted]' };
};

export type AdyenNotificationError = CommandError | AdyenNotificationRejectedError;

/** The acknowledgement Adyen expects. */
export const adyenAcknowledgement = { status: 200, body: '[accepted]' } as const;

/**
 * The HTTP answer for a handled batch: 200 `[accepted]`; 401 (bad or missing
 * HMAC) or 400 (any other refusal); 500 when the store failed or on a bug, so
 * that Adyen sends the batch again later.
 */
export const adyenNotificationAnswer = (
  result: Result<AdyenBatchOutcome, AdyenNotificationError>,
): { status: number; body: string } => {
  if (result.isOk()) return adyenAcknowledgement;
  const error = result.error;
  if (error instanceof AdyenNotificationRejectedError) {
    return { status: error.reason === 'hmac_missing' || error.reason === 'hmac_invalid' ? 401 : 400, body: error.reason };
  }
  return { status: 500, body: error.code };
};

// What Adyen always sends; anything further passes (Adyen adds fields).
const notificationItemSchema = z.looseObject({
  additionalData: z.record(z.string(), z.unknown()).nullable().optional(),
  amount: z.looseObject({ value: z.number().int().min(0), currency: z.string().regex(/^[A-Za-z]{3}$/, 'must be a currency code') }),
  eventCode: z.string().min(1).max(64),
  merchantAccountCode: z.string().min(1).max(255),
  merchantReference: z.string().max(255).nullable().optional(),
  originalReference: z.string().max(255).nullable().optional(),
  pspReference: z.string().min(1).max(64),
  reason: z.string().nullable().optional(),
  success: z.enum(['true', 'false']),
});
type NotificationItem = z.output<typeof notificationItemSchema>;

/**
 * What every item must have for its signature to be checked at all; an event code the handler does not act on
 * needs nothing more (Adyen adds event codes and shapes: a report's amount, say, need not be an integer).
 */
const signableItemSchema = z.looseObject({
  additionalData: z.record(z.string(), z.unknown()).nullable().optional(),
  amount: z.looseObject({}),
  eventCode: z.string().min(1).max(64),
});

const batchSchema = z.looseObject({
  live: z.union([z.enum(['true', 'false']), z.boolean()]),
  notificationItems: z.array(z.looseObject({ NotificationRequestItem: z.unknown() })).min(1),
});

const parseBatch = fastSafeParse(batchSchema);
const parseItem = fastSafeParse(notificationItemSchema);
const parseSignable = fastSafeParse(signableItemSchema);

/** Refund notifications and what each says of the refund. */
const refundEvents = new Set(['REFUND', 'CANCEL_OR_REFUND', 'REFUND_FAILED', 'REFUNDED_REVERSED']);
/** Notifications that confirm the charge, when successful. */
const chargeEvents = new Set(['AUTHORISATION', 'CAPTURE']);
const handledEvents = new Set([...refundEvents, ...chargeEvents]);

/** A refund notification in the library's processor-neutral words (without the attempt it belongs to). */
export const toProcessorRefundFromNotification = (item: NotificationItem): ProcessorRefund => {
  const success = item.success === 'true';
  // REFUND_FAILED (the scheme rejected it) and REFUNDED_REVERSED (the money came back) mean failed whatever `success`
  // says: it tells whether the event happened, and it did.
  const failed = item.eventCode === 'REFUND_FAILED' || item.eventCode === 'REFUNDED_REVERSED' || !success;
  const reason = item.reason ?? null;
  const fallback: AdyenFailureReason =
    item.eventCode === 'REFUND_FAILED' ? 'scheme_rejected' : item.eventCode === 'REFUNDED_REVERSED' ? 'refund_reversed' : 'unknown';
  const classified = adyenFailureReasonOf(reason);
  const code = classified === 'unknown' ? fallback : classified;
  const advice = adyenFailureReasons[code];
  return {
    processorRefundId: item.pspReference,
    paymentId: item.originalReference ?? '',
    amount: item.amount.value,
    currency: item.amount.currency.toLowerCase(),
    status: failed ? 'failed' : 'succeeded',
    failure: failed
      ? {
          reason: code,
          classification: classificationOf(advice),
          message: reason ? `${advice.banner} Adyen: "${reason.slice(0, 500)}" (${item.eventCode}).` : `${advice.banner} (${item.eventCode})`,
        }
      : null,
    metadata: { creditNoteId: null, attempt: null },
  };
};

/**
 * A CANCEL_OR_REFUND's `additionalData['modification.action']`: `cancel` (an uncaptured payment was released) or
 * `refund`; null when absent (read as a refund, as before Adyen sent it).
 */
const modificationAction = (item: NotificationItem): string | null => {
  const action = item.additionalData?.['modification.action'];
  return typeof action === 'string' ? action.toLowerCase() : null;
};

/** Stable across Adyen's redeliveries of one item: a redelivered item writes nothing new. */
export const adyenCausationId = (item: { eventCode: string; pspReference: string; success: string }): string =>
  `adyen:${item.eventCode}:${item.pspReference}:${item.success}`;

const describeIssues = (issues: readonly ValidationIssue[]): string =>
  issues.map((issue) => `${issue.path || '(root)'}: ${issue.message}`).join('; ');

const reject = (reason: AdyenNotificationRejection, message: string, options?: { cause?: unknown; issues?: readonly ValidationIssue[]; itemIndex?: number | null }) =>
  err(new AdyenNotificationRejectedError(reason, message, options));

/** A signed item: one to act on (`item`), or one acknowledged and ignored for `ignoredFor`. */
type VerifiedItem =
  | { index: number; item: NotificationItem; ignoredFor: null }
  | { index: number; item: null; ignoredFor: string; eventCode: string; pspReference: string; success: string };

const text = (value: unknown): string => (typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value));

/**
 * Verifies Adyen's standard notifications item by item (HMAC with the
 * library's validator, mode), then applies each: refund events observe (or
 * adopt) a refund, AUTHORISATION and CAPTURE confirm the charge, anything
 * else is acknowledged and ignored, as are signed items of merchant accounts
 * this endpoint does not serve.
 *
 * A batch is verified whole before anything is written: one item that fails
 * its signature (or, for an event code the handler acts on, the shape Adyen
 * sends) refuses the whole batch (nothing written), since Adyen signs every
 * item of a batch with the same key and a mixed batch is a tampered one or a
 * misconfiguration, and Adyen sends a refused batch again. An event code the
 * handler does not act on is only checked for its signature. Then items are
 * applied one by one, each idempotent by its causation id: when one fails
 * on our side (the store is down) the batch is not acknowledged, and its
 * redelivery skips what was already applied.
 */
export const adyenNotifications = (options: AdyenNotificationsOptions) => {
  const { lifecycle, hmacKey, merchantAccount } = options;
  if (typeof hmacKey !== 'string' || !/^(?:[0-9a-fA-F]{2})+$/.test(hmacKey)) {
    throw new TypeError('adyenNotifications needs the webhook HMAC key as the Customer Area shows it (hexadecimal)');
  }
  if (typeof merchantAccount !== 'string' || merchantAccount.trim() === '') {
    throw new TypeError('adyenNotifications needs the merchantAccount adyenGateway refunds on');
  }
  const live = options.live ?? false;
  const adopt = options.adoptExternalRefunds ?? true;
  const confirmChargeOn = options.confirmChargeOn ?? 'authorisation';
  if (confirmChargeOn !== 'authorisation' && confirmChargeOn !== 'capture') {
    throw new TypeError(`confirmChargeOn must be 'authorisation' or 'capture'; got ${String(confirmChargeOn)}`);
  }
  const accounts = new Set([merchantAccount, ...(options.accounts ?? [])]);
  const validator = newHmacValidator();

  /** The batch as JSON, of our mode, every item signed; items not ours to act on marked ignored. Nothing is read before. */
  const verify = (body: unknown): Result<VerifiedItem[], AdyenNotificationRejectedError> => {
    let parsedBody = body;
    if (typeof body === 'string' || body instanceof Uint8Array) {
      const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
      try {
        parsedBody = JSON.parse(text) as unknown;
      } catch (cause) {
        return reject('payload_not_json', 'The notification body is not JSON', { cause });
      }
    }
    const batch = parseBatch(parsedBody);
    if (!batch.success) {
      const issues = toValidationIssues(batch.error);
      return reject('payload_invalid', `The body is not a batch of Adyen notifications: ${describeIssues(issues)}`, { issues });
    }
    const verified: VerifiedItem[] = [];
    for (const [index, wrapper] of batch.data.notificationItems.entries()) {
      const raw = wrapper.NotificationRequestItem;
      const issuesAt = (error: Parameters<typeof toValidationIssues>[0]) =>
        toValidationIssues(error).map((issue) => ({
          ...issue,
          path: `notificationItems.${index}.NotificationRequestItem${issue.path ? `.${issue.path}` : ''}`,
        }));
      const signable = parseSignable(raw);
      if (!signable.success) {
        const issues = issuesAt(signable.error);
        return reject('payload_invalid', `Item ${index} is not an Adyen notification: ${describeIssues(issues)}`, { issues, itemIndex: index });
      }
      const fields = raw as Record<string, unknown>;
      const eventCode = signable.data.eventCode;
      const named = `${eventCode} ${text(fields['pspReference'])}`;
      const signature = signable.data.additionalData?.['hmacSignature'];
      if (typeof signature !== 'string' || signature === '') {
        return reject('hmac_missing', `Item ${index} (${named}) carries no hmacSignature: switch HMAC signing on for this webhook`, { itemIndex: index });
      }
      let valid = false;
      try {
        // The library computes the signature over the item's fields and compares in constant time.
        valid = validator.validateHMAC(raw as Parameters<typeof validator.validateHMAC>[0], hmacKey);
      } catch (cause) {
        return reject('hmac_invalid', `Item ${index}'s signature could not be checked`, { cause, itemIndex: index });
      }
      if (!valid) {
        return reject('hmac_invalid', `Item ${index} (${named}) is not signed with this webhook's HMAC key`, { itemIndex: index });
      }
      // Signed: from here on an item is Adyen's own word, and one we cannot act on is acknowledged, never refused.
      const ignore = (reason: string): VerifiedItem => ({
        index,
        item: null,
        ignoredFor: reason,
        eventCode,
        pspReference: text(fields['pspReference']),
        success: text(fields['success']),
      });
      if (typeof fields['merchantAccountCode'] !== 'string' || !accounts.has(fields['merchantAccountCode'])) {
        verified.push(ignore('merchant_account_not_served'));
        continue;
      }
      if (!handledEvents.has(eventCode)) {
        verified.push(ignore('unhandled_event_code'));
        continue;
      }
      const parsed = parseItem(raw);
      if (!parsed.success) {
        const issues = issuesAt(parsed.error);
        return reject('payload_invalid', `Item ${index} is not an Adyen notification: ${describeIssues(issues)}`, { issues, itemIndex: index });
      }
      verified.push({ index, item: parsed.data, ignoredFor: null });
    }
    const batchLive = batch.data.live === true || batch.data.live === 'true';
    if (batchLive !== live) {
      return reject('live_mismatch', `The notifications are ${batchLive ? 'live' : 'test'}; this endpoint is ${live ? 'live' : 'test'}`);
    }
    return ok(verified);
  };

  /**
   * `null` and the default merchant account's name are the same account: the gateway refunds a payment of
   * `account: null` on the default merchant account, and a host may as well record that name in `payment.account`.
   */
  const normalAccount = (account: string | null | undefined): string | null =>
    account === null || account === undefined || account === merchantAccount ? null : account;
  const sameAccount = (a: string | null | undefined, b: string | null | undefined) => normalAccount(a) === normalAccount(b);

  /** The item's account in its short form: `null` for the default merchant account. */
  const accountOf = (item: NotificationItem): string | null => normalAccount(item.merchantAccountCode);

  /**
   * Runs a lifecycle command that checks `account` against what the credit note holds (strictly): first with
   * `account`, and again with the credit note's own spelling when the two name the same merchant account
   * (`null` against the default account's name). A refused check writes nothing, so the second run is safe.
   */
  const onAccount = <T>(
    item: NotificationItem,
    account: string | null,
    run: (account: string | null) => ResultAsync<T, CommandError>,
  ): ResultAsync<T, CommandError> =>
    run(account).orElse((error) =>
      error.code === 'account_mismatch' && error.expectedAccount !== account && sameAccount(error.expectedAccount, item.merchantAccountCode)
        ? run(error.expectedAccount)
        : err(error),
    );

  type ItemResult = Omit<AdyenItemOutcome, 'index' | 'eventCode' | 'pspReference' | 'causationId'>;
  type Applied = Result<ItemResult, CommandError>;
  const changedOrNot = (changed: boolean, creditNoteIds: string[]): ItemResult => ({
    outcome: changed ? 'applied' : 'unchanged',
    reason: null,
    creditNoteIds,
  });
  const ignoredFor = (reason: string): ItemResult => ({ outcome: 'ignored', reason, creditNoteIds: [] });
  const done = (changed: boolean, creditNoteIds: string[]): Applied => ok(changedOrNot(changed, creditNoteIds));
  const ignored = (reason: string): Applied => ok(ignoredFor(reason));

  /** Typed answers of the lifecycle that mean "not ours" or "cannot be taken" rather than a failure. */
  const answerOf = (error: CommandError): Applied => {
    if (error.code === 'account_mismatch') return ignored('account_mismatch');
    const namesNoCreditNote =
      error.code === 'validation_failed' && error.issues.every((issue) => issue.path === 'refund.metadata.creditNoteId');
    if (error.code === 'credit_note_not_found' || namesNoCreditNote) return ignored('unknown_credit_note');
    // A genuine notification the lifecycle cannot take will never become acceptable: acknowledged, not retried for days.
    if (error.code === 'validation_failed') return ignored('unprocessable_event');
    return err(error);
  };

  /** The credit notes of a payment, or `null` when they are on another merchant account than the item's. */
  const creditNotesOf = (paymentId: string, item: NotificationItem) =>
    lifecycle
      .listCreditNotes({ paymentId, limit: 500 })
      .map((views) => (views.some((view) => !sameAccount(view.payment?.account, item.merchantAccountCode)) ? null : views));

  /** The attempt a digest reference was written for, among the credit notes of the payment. */
  const attemptOfDigest = (views: readonly CreditNoteView[], reference: string) => {
    for (const view of views) {
      for (let attempt = view.attempt; attempt >= 1; attempt -= 1) {
        if (matchesReference(reference, view.creditNoteId, attempt)) return { creditNoteId: view.creditNoteId, attempt };
      }
    }
    return null;
  };

  const observe = (refund: ProcessorRefund, item: NotificationItem, causationId: string) =>
    onAccount(item, accountOf(item), (account) => lifecycle.observeRefund({ refund, source: 'webhook', causationId, account })).map(
      ({ creditNote, changed }) => ({ creditNoteId: creditNote.creditNoteId, changed }),
    );

  /** A refund not written by the library: adopted (a Customer Area refund) when its payment is ours. */
  const handleForeignRefund = (refund: ProcessorRefund, item: NotificationItem, causationId: string) =>
    safeTry(async function* () {
      const views = yield* creditNotesOf(refund.paymentId, item);
      if (views === null) return ignored('account_mismatch');
      // No credit note refunds the payment: neither a refund we follow nor one to adopt.
      if (views.length === 0) return ignored('unknown_payment');
      if (refund.status === 'failed') {
        // A refund already followed (adopted when it succeeded, then REFUND_FAILED) is its credit note's news; one that
        // failed at first sight moved no money and is not adopted: it would only be a failed credit note to explain.
        return observe(refund, item, causationId)
          .map(({ creditNoteId, changed }) => changedOrNot(changed, [creditNoteId]))
          .orElse((error) => (error.code === 'validation_failed' ? ignored(adopt ? 'external_refund_failed' : 'external_refund') : answerOf(error)));
      }
      if (!adopt) {
        // Not adopted, but a refund already recorded on a credit note is still that credit note's news.
        return observe(refund, item, causationId)
          .map(({ creditNoteId, changed }) => changedOrNot(changed, [creditNoteId]))
          .orElse((error) => (error.code === 'validation_failed' ? ignored('external_refund') : answerOf(error)));
      }
      // Adopted on the account as the payment's other credit notes spell it, so that later news matches it alike.
      const account = views[0]?.payment?.account ?? accountOf(item);
      return onAccount(item, account, (on) => lifecycle.adoptExternalRefund({ refund, source: 'webhook', causationId, account: on }))
        .map(({ creditNote, changed }) =>
          creditNote === null ? ignoredFor('unknown_payment') : changedOrNot(changed, [creditNote.creditNoteId]),
        )
        .orElse(answerOf);
    });

  /**
   * One refund notification. The lifecycle looks the refund id up first: a
   * refund recorded on a credit note (from the create answer) stays its own,
   * whatever its reference. The reference only routes a refund never recorded
   * yet, such as one whose create answer was lost.
   */
  const handleRefund = (item: NotificationItem, causationId: string) =>
    safeTry(async function* () {
      if (item.eventCode === 'CANCEL_OR_REFUND' && modificationAction(item) === 'cancel') {
        // The payment was released before capture: no money moved, so there is no refund to record (a credit note
        // of the payment still waits for its own refund's news, which Adyen refuses for a cancelled payment).
        return ignored('payment_cancelled');
      }
      if (!item.originalReference) return ignored('no_payment');
      const refund = toProcessorRefundFromNotification(item);
      const reference = parseAdyenReference(item.merchantReference);
      if (reference.kind === 'foreign') return handleForeignRefund(refund, item, causationId);
      let metadata: ProcessorRefund['metadata'] = { creditNoteId: null, attempt: null };
      if (reference.kind === 'attempt') {
        metadata = { creditNoteId: reference.creditNoteId, attempt: reference.attempt };
      } else {
        const views = yield* creditNotesOf(refund.paymentId, item);
        metadata = (views === null ? null : attemptOfDigest(views, reference.reference)) ?? metadata;
      }
      const observed = await observe({ ...refund, metadata }, item, causationId);
      if (observed.isOk()) return done(observed.value.changed, [observed.value.creditNoteId]);
      const answer = answerOf(observed.error);
      // `<x>:<n>` naming no credit note of ours is somebody else's reference (a Customer Area refund of a payment
      // whose own reference looks like ours): followed like any refund made outside the library.
      if (reference.kind === 'attempt' && answer.isOk() && answer.value.reason === 'unknown_credit_note') {
        return handleForeignRefund(refund, item, causationId);
      }
      return answer;
    });

  const handleChargeConfirmed = (item: NotificationItem, causationId: string) =>
    safeTry(async function* () {
      if (item.success !== 'true') return ignored('unsuccessful_event');
      if (item.eventCode === 'AUTHORISATION' && confirmChargeOn === 'capture') return ignored('authorisation_not_capture');
      // AUTHORISATION is about the payment itself; a CAPTURE names it in originalReference.
      const paymentId = item.eventCode === 'CAPTURE' ? (item.originalReference ?? '') : item.pspReference;
      if (paymentId === '') return ignored('no_payment');
      if ((yield* creditNotesOf(paymentId, item)) === null) return ignored('account_mismatch');
      return lifecycle
        .confirmCharge({ paymentId, processor: 'adyen', source: 'webhook', causationId })
        .map(({ changed, released }) => changedOrNot(changed, released))
        .orElse(answerOf);
    });

  const applyItem = async (entry: VerifiedItem): Promise<Result<AdyenItemOutcome, CommandError>> => {
    const { index, item } = entry;
    const named = item ?? entry;
    const causationId = adyenCausationId(named);
    const started = performance.now();
    const applied: Applied =
      item === null
        ? ignored(entry.ignoredFor)
        : refundEvents.has(item.eventCode)
          ? await handleRefund(item, causationId)
          : await handleChargeConfirmed(item, causationId);
    const outcome = applied.map((value) => ({ index, eventCode: named.eventCode, pspReference: named.pspReference, causationId, ...value }));
    observeItem(outcome, named.eventCode, causationId, performance.now() - started);
    return outcome;
  };

  const sinks = () => ({
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.telemetry === undefined ? {} : { telemetry: options.telemetry }),
  });

  /** One line and one count per item (when the host passed a logger or telemetry): ids and codes, never the body. */
  const observeItem = (outcome: Result<AdyenItemOutcome, CommandError>, eventCode: string, causationId: string, durationMs: number) => {
    if (options.logger === undefined && options.telemetry === undefined) return;
    if (outcome.isOk()) {
      const { outcome: what, reason, creditNoteIds } = outcome.value;
      recordWebhookOutcome(sinks(), { processor: 'adyen', outcome: what, reason, correlationId: causationId, eventId: causationId, eventType: eventCode, creditNoteIds, durationMs });
    } else {
      recordWebhookOutcome(sinks(), { processor: 'adyen', outcome: 'failed', correlationId: causationId, eventId: causationId, eventType: eventCode, errorCode: outcome.error.code, error: outcome.error, durationMs });
    }
  };

  const handle = async (delivery: AdyenNotificationDelivery): Promise<Result<AdyenBatchOutcome, AdyenNotificationError>> => {
    const verified = verify(delivery?.body);
    if (verified.isErr()) {
      if (options.logger !== undefined || options.telemetry !== undefined) {
        recordWebhookOutcome(sinks(), { processor: 'adyen', outcome: 'rejected', reason: verified.error.reason, correlationId: 'unknown', errorCode: verified.error.code, error: verified.error });
      }
      return err(verified.error);
    }
    const items: AdyenItemOutcome[] = [];
    for (const entry of verified.value) {
      const outcome = await applyItem(entry);
      // Not acknowledged: Adyen sends the batch again and what was applied is skipped then.
      if (outcome.isErr()) return err(outcome.error);
      items.push(outcome.value);
    }
    return ok({ items, answer: adyenAcknowledgement });
  };

  return {
    /**
     * Verify and apply one POST of standard notifications. `Ok` (answer 200
     * `[accepted]`): every item applied, already known or ignored.
     * `Err(AdyenNotificationRejectedError)` (answer 401 or 400): refused,
     * nothing written. `StoreError`, `ConcurrencyError`, `UnexpectedError`:
     * answer 500, Adyen sends it again. `adyenNotificationAnswer` maps a result
     * to that answer.
     */
    handleNotification: (delivery: AdyenNotificationDelivery): ResultAsync<AdyenBatchOutcome, AdyenNotificationError> =>
      new ResultAsync(handle(delivery).catch((cause: unknown) => err<AdyenBatchOutcome, UnexpectedError>(new UnexpectedError(cause)))),
  };
};

export type AdyenNotifications = ReturnType<typeof adyenNotifications>;
