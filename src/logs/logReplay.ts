import { isCreditNoteEvent, isPaymentEvent, type DomainEvent } from '../events/envelope.js';
import type { CreditNoteEvent } from '../events/creditNoteEvents.js';
import { parseLoggedEvent } from '../events/parseEvent.js';
import type { RefundRequestEvent } from '../events/refundRequestEvents.js';
import { creditNoteStatuses, initialCreditNoteState, type CreditNoteState, type CreditNoteStatus } from '../machine/creditNoteState.js';
import { evolveCreditNote } from '../machine/fold.js';
import { decideRefundRequest } from '../machine/refundRequestMachine.js';
import {
  initialRefundRequestState,
  refundRequestMachineStatuses,
  type RefundRequestMachineStatus,
  type RefundRequestState,
} from '../machine/refundRequestState.js';
import { CREDIT_NOTE_STREAM_PREFIX, PAYMENT_STREAM_PREFIX } from '../lifecycle/streams.js';
import { REFUND_REQUEST_STREAM_PREFIX } from '../requests/refundRequestStream.js';
import { money, processorName } from './narrate.js';

/*
 * The audit behind `refund-lifecycle replay`: events go in one at a time, in
 * whatever order the log holds them, and a report comes out. What it keeps is
 * one small record per stream (the folded state, the last version, the refund
 * ids per attempt) and nothing per event, so a log of any length replays in
 * memory bounded by the number of credit notes, payments and refund requests.
 */

/** Where a fact sits in the input: a line of a JSONL file, or a position in a store's global log. */
export type LogLocation = { line: number } | { position: number };

export type ViolationKind =
  /** A stream's versions skip, repeat or go back: events were lost, duplicated or reordered within the stream. */
  | 'version_out_of_order'
  /** The lifecycle does not allow this event from the credit note's status (or the request machine from the refund request's). */
  | 'transition_rejected'
  /** An event after the credit note was settled (succeeded or refunded by hand) that is not a processor reversal. */
  | 'event_after_terminal'
  /** One attempt names two different processor refunds: money may have gone out twice. */
  | 'two_refunds_for_one_attempt'
  /** One processor refund is claimed by two credit notes. */
  | 'refund_on_two_credit_notes'
  /** The credit notes of one payment refunded more than was charged. */
  | 'refunded_beyond_charge'
  /**
   * A refund request approved with a refund whose credit note the log never issued: the two are written in one
   * append, so one without the other means the log was cut or edited.
   */
  | 'approval_without_credit_note';

export type Violation = {
  kind: ViolationKind;
  streamId: string;
  at: LogLocation | null;
  message: string;
};

export type BadLine = { at: LogLocation; message: string };

export type StuckCreditNote = {
  creditNoteId: string;
  status: CreditNoteStatus;
  /** When the credit note entered its status. */
  since: string;
  ageDays: number;
  /** Plain words: what it waits for. */
  why: string;
  inDoubt: boolean;
};

export type LogReplayOptions = {
  /** The instant ages are measured to. */
  asOf: Date;
  /**
   * A credit note `requested` or `pending` longer than this is stuck; one with an attempt in doubt that nothing will
   * try again (automatic retries used up, or the retry overdue) is stuck at once.
   */
  stuckAfterDays: number;
  /** Replay only this credit note (and its payment's stream). */
  creditNoteId?: string;
};

export type LogReplayReport = {
  /** Lines or rows read, bad ones included. */
  read: number;
  /** Events replayed (valid and within the `creditNoteId` narrowing). */
  events: number;
  creditNotes: number;
  payments: number;
  /** `commit`: positions rose throughout (an export, a quiet store's `readAll`); `unordered`: they did not, or are missing (e.g. grouped by stream). */
  order: 'commit' | 'unordered' | 'empty';
  statuses: Record<Exclude<CreditNoteStatus, 'unissued'>, number>;
  /** Credit notes whose stream holds a line that was skipped: their state is unknown, so they are not judged. */
  incomplete: string[];
  stuck: StuckCreditNote[];
  /**
   * Refund requests (`refund-request-*` streams) by their own status. An approved request's money outcome is its
   * credit note's, counted in `statuses`. Narrowed to one credit note, none are replayed.
   */
  refundRequests: {
    count: number;
    statuses: Record<Exclude<RefundRequestMachineStatus, 'unsubmitted'>, number>;
    /** Requests whose stream holds a line that was skipped: their state is unknown, so they are not judged. */
    incomplete: string[];
  };
  /** The first 10,000 violations; `violationCount` counts them all. */
  violations: Violation[];
  violationCount: number;
  /** The first 10,000 bad lines; `badLineCount` counts them all. */
  badLines: BadLine[];
  badLineCount: number;
  asOf: string;
  stuckAfterDays: number;
};

type CreditNoteRecord = {
  version: number;
  state: CreditNoteState;
  /** When the credit note entered its current status. */
  since: string;
  /** Processor refund id per attempt (index = attempt), once named. */
  refunds: Array<string | undefined> | null;
  incomplete: boolean;
};

type RequestRecord = {
  version: number;
  state: RefundRequestState;
  incomplete: boolean;
};

type PaymentRecord = {
  version: number;
  charged: { amount: number; currency: string } | null;
  incomplete: boolean;
};

/** Past this many, violations and bad lines are counted but not kept: a broken log must not exhaust memory. */
const KEPT = 10_000;
const DAY_MS = 86_400_000;
const SETTLED: ReadonlySet<CreditNoteStatus> = new Set(['succeeded', 'manual']);

/** The stream a broken line still names, e.g. a line cut short after its `streamId`. */
const STREAM_ID_IN_TEXT = /"streamId"\s*:\s*"([^"\\]+)"/;

const issuesText = (issues: ReadonlyArray<{ path: string; message: string }>) =>
  issues.map((issue) => `${issue.path || '(root)'}: ${issue.message}`).join('; ');

const streamIdOf = (raw: unknown): string | null => {
  const streamId = (raw as { streamId?: unknown } | null)?.streamId;
  return typeof streamId === 'string' ? streamId : null;
};

export type LogReplay = {
  /**
   * Validates (upcasting older schema versions) and replays one raw event; a
   * bad one is reported, not thrown. False when the event was bad.
   */
  add(raw: unknown, at: LogLocation): boolean;
  /**
   * A line that is not even JSON; always false. Given its text, the credit
   * note it names (if it still shows a `streamId`) is not judged on what remains.
   */
  reject(at: LogLocation, message: string, text?: string): false;
  /** What was replayed so far: counts per status, stuck credit notes, violations. */
  report(): LogReplayReport;
};

export const createLogReplay = (options: LogReplayOptions): LogReplay => {
  const creditNotes = new Map<string, CreditNoteRecord>();
  const payments = new Map<string, PaymentRecord>();
  const requests = new Map<string, RequestRecord>();
  const refundOwners = new Map<string, string>();
  const sharedRefunds = new Set<string>();
  const violations: Violation[] = [];
  const badLines: BadLine[] = [];
  let violationCount = 0;
  let badLineCount = 0;
  let read = 0;
  let events = 0;
  let lastPosition = 0;
  let ordered = true;
  const onlyStream = options.creditNoteId === undefined ? null : `${CREDIT_NOTE_STREAM_PREFIX}${options.creditNoteId}`;
  // Narrowed to one credit note, its payment's stream counts too; which payment is known once it is issued.
  let onlyPaymentStream: string | null = null;

  const violation = (kind: ViolationKind, streamId: string, at: LogLocation | null, message: string) => {
    violationCount += 1;
    if (violations.length < KEPT) violations.push({ kind, streamId, at, message });
  };
  const reject = (at: LogLocation, message: string) => {
    badLineCount += 1;
    if (badLines.length < KEPT) badLines.push({ at, message });
  };

  const markIncomplete = (streamId: string) => {
    if (streamId.startsWith(PAYMENT_STREAM_PREFIX)) {
      const payment = payments.get(streamId) ?? { version: 0, charged: null, incomplete: true };
      payment.incomplete = true;
      payments.set(streamId, payment);
    } else if (streamId.startsWith(REFUND_REQUEST_STREAM_PREFIX)) {
      const request = requests.get(streamId) ?? { version: 0, state: initialRefundRequestState, incomplete: true };
      request.incomplete = true;
      requests.set(streamId, request);
    } else {
      const creditNote = creditNotes.get(streamId) ?? newCreditNote();
      creditNote.incomplete = true;
      creditNotes.set(streamId, creditNote);
    }
  };

  /** False when the event must not be folded: a repeat or an older version than already replayed. */
  const inVersionOrder = (streamId: string, known: number, event: DomainEvent, at: LogLocation): boolean => {
    const version = event.streamVersion;
    if (version === known + 1) return true;
    if (version > known + 1) {
      const missing = version === known + 2 ? `version ${known + 1} is missing` : `versions ${known + 1}–${version - 1} are missing`;
      violation('version_out_of_order', streamId, at, `${streamId}: version ${version} follows version ${known}; ${missing}`);
      return true;
    }
    violation(
      'version_out_of_order',
      streamId,
      at,
      version === known
        ? `${streamId}: version ${version} appears twice (event ${event.eventId})`
        : `${streamId}: version ${version} comes after version ${known}`,
    );
    return false;
  };

  /** True when the event names a refund that is not its attempt's (the one violation it then earns). */
  const checkRefundIds = (streamId: string, record: CreditNoteRecord, event: CreditNoteEvent, at: LogLocation): boolean => {
    const data = event.data as { attempt?: number; processorRefundId?: string | null };
    const refundId = data.processorRefundId;
    if (typeof refundId !== 'string' || typeof data.attempt !== 'number') return false;
    let found = false;
    const refunds = (record.refunds ??= []);
    const named = refunds[data.attempt];
    if (named === undefined) refunds[data.attempt] = refundId;
    else if (named !== refundId) {
      found = true;
      violation(
        'two_refunds_for_one_attempt',
        streamId,
        at,
        `${streamId}: attempt ${data.attempt} names refund ${refundId}, but it already named ${named}`,
      );
    }
    const owner = refundOwners.get(refundId);
    if (owner === undefined) refundOwners.set(refundId, streamId);
    else if (owner !== streamId) {
      found = true;
      // Once per refund and credit note, however many events repeat the claim.
      const claim = `${refundId} ${streamId}`;
      if (!sharedRefunds.has(claim)) {
        sharedRefunds.add(claim);
        violation('refund_on_two_credit_notes', streamId, at, `refund ${refundId} is on ${owner} and on ${streamId}`);
      }
    }
    return found;
  };

  const replayCreditNoteEvent = (event: CreditNoteEvent & DomainEvent, at: LogLocation) => {
    const streamId = event.streamId;
    const record = creditNotes.get(streamId) ?? newCreditNote();
    creditNotes.set(streamId, record);
    if (record.incomplete) return;
    if (!inVersionOrder(streamId, record.version, event, at)) return;
    record.version = event.streamVersion;
    const misnamed = checkRefundIds(streamId, record, event, at);
    const before = record.state;
    const next = evolveCreditNote(before, event);
    if (!next.accepted) {
      // The machine refuses an outcome naming another refund too: that is the same defect, reported once.
      if (misnamed) return;
      const settled = SETTLED.has(before.status);
      violation(
        settled ? 'event_after_terminal' : 'transition_rejected',
        streamId,
        at,
        settled
          ? `${streamId}: ${event.type} arrived after the credit note was settled (${before.status})`
          : `${streamId}: ${event.type} is not allowed from ${before.status}`,
      );
      return;
    }
    if (next.state.status !== before.status) record.since = event.occurredAt;
    record.state = next.state;
    if (onlyStream === streamId && next.state.context.payment !== null) {
      onlyPaymentStream = `${PAYMENT_STREAM_PREFIX}${next.state.context.payment.paymentId}`;
    }
  };

  const replayPaymentEvent = (event: DomainEvent, at: LogLocation) => {
    const streamId = event.streamId;
    const record = payments.get(streamId) ?? { version: 0, charged: null, incomplete: false };
    payments.set(streamId, record);
    if (record.incomplete) return;
    // Narrowed to one credit note, other payments' streams are read only for their charge: their order is not ours to judge.
    if (onlyStream === null && !inVersionOrder(streamId, record.version, event, at)) return;
    record.version = event.streamVersion;
    if (event.type === 'PaymentDescribed' && event.data.amount !== null && event.data.currency !== null) {
      record.charged = { amount: event.data.amount, currency: event.data.currency };
    }
  };

  /** A request stream holds only the request's own events: its machine judges each, and refuses any other kind. */
  const replayRequestEvent = (event: DomainEvent, at: LogLocation) => {
    const streamId = event.streamId;
    const record = requests.get(streamId) ?? { version: 0, state: initialRefundRequestState, incomplete: false };
    requests.set(streamId, record);
    if (record.incomplete) return;
    if (!inVersionOrder(streamId, record.version, event, at)) return;
    record.version = event.streamVersion;
    const decision = decideRefundRequest(record.state, event as unknown as RefundRequestEvent);
    if (!decision.accepted) {
      violation('transition_rejected', streamId, at, `${streamId}: ${event.type} is not allowed from ${record.state.status}`);
      return;
    }
    record.state = decision.state;
  };

  const wanted = (streamId: string) =>
    onlyStream === null || streamId === onlyStream || streamId.startsWith(PAYMENT_STREAM_PREFIX);

  return {
    reject(at, message, text) {
      read += 1;
      reject(at, message);
      const streamId = text === undefined ? null : (STREAM_ID_IN_TEXT.exec(text)?.[1] ?? null);
      if (streamId !== null && wanted(streamId)) markIncomplete(streamId);
      return false;
    },

    add(raw, at) {
      read += 1;
      const parsed = parseLoggedEvent(raw);
      if (parsed.isErr()) {
        reject(at, issuesText(parsed.error.issues));
        const streamId = streamIdOf(raw);
        if (streamId !== null && wanted(streamId)) markIncomplete(streamId);
        return false;
      }
      const event = parsed.value;
      if ('globalPosition' in event) {
        const position = event.globalPosition;
        if (position <= lastPosition) ordered = false;
        lastPosition = position;
      } else ordered = false;
      if (!wanted(event.streamId)) return true;
      events += 1;
      if (event.streamId.startsWith(REFUND_REQUEST_STREAM_PREFIX)) replayRequestEvent(event, at);
      else if (isCreditNoteEvent(event)) replayCreditNoteEvent(event as CreditNoteEvent & DomainEvent, at);
      else if (isPaymentEvent(event)) replayPaymentEvent(event, at);
      return true;
    },

    report() {
      const statuses = Object.fromEntries(
        creditNoteStatuses.filter((status) => status !== 'unissued').map((status) => [status, 0]),
      ) as LogReplayReport['statuses'];
      const incomplete: string[] = [];
      const stuck: StuckCreditNote[] = [];
      const refundedByPayment = new Map<string, { amount: number; currency: string; creditNotes: number }>();
      const asOf = options.asOf.getTime();
      let counted = 0;
      for (const [streamId, record] of creditNotes) {
        if (onlyStream !== null && streamId !== onlyStream) continue;
        counted += 1;
        if (record.incomplete) {
          incomplete.push(streamId.slice(CREDIT_NOTE_STREAM_PREFIX.length));
          continue;
        }
        const { status, context } = record.state;
        if (status === 'unissued') continue;
        statuses[status] += 1;
        const ageDays = (asOf - Date.parse(record.since)) / DAY_MS;
        const inDoubt = context.refund?.status === 'in_doubt';
        // An attempt in doubt is stuck as soon as nothing will try it again: its retries are used up, or due and not run.
        const retryAt = context.transientError?.retryAt;
        const abandoned = inDoubt && (retryAt == null || Date.parse(retryAt) < asOf);
        if ((status === 'requested' || status === 'pending') && (ageDays > options.stuckAfterDays || abandoned)) {
          stuck.push({ creditNoteId: context.creditNoteId, status, since: record.since, ageDays, why: waitingFor(record.state), inDoubt });
        }
        if ((status === 'succeeded' || status === 'manual') && context.payment !== null) {
          const key = `${PAYMENT_STREAM_PREFIX}${context.payment.paymentId}`;
          const refunded = refundedByPayment.get(key) ?? { amount: 0, currency: context.currency, creditNotes: 0 };
          if (refunded.currency === context.currency) {
            refunded.amount += context.amount;
            refunded.creditNotes += 1;
          }
          refundedByPayment.set(key, refunded);
        }
      }
      // Judged on the whole log, so these join a copy: a later report judges again from scratch.
      const judged = [...violations];
      let violationTotal = violationCount;
      for (const [streamId, refunded] of refundedByPayment) {
        const charged = payments.get(streamId)?.charged;
        if (charged == null || charged.currency !== refunded.currency || refunded.amount <= charged.amount) continue;
        violationTotal += 1;
        if (judged.length < KEPT) {
          judged.push({
            kind: 'refunded_beyond_charge',
            streamId,
            at: null,
            message: `${streamId}: ${refunded.creditNotes === 1 ? 'its credit note' : `${refunded.creditNotes} credit notes`} refunded ${money(refunded.amount, refunded.currency)} of a ${money(charged.amount, charged.currency)} charge`,
          });
        }
      }
      for (const [streamId, record] of requests) {
        const decision = record.state.context.decision;
        if (record.incomplete || decision?.kind !== 'approved' || decision.creditNoteId === null) continue;
        const creditNote = creditNotes.get(`${CREDIT_NOTE_STREAM_PREFIX}${decision.creditNoteId}`);
        if (creditNote === undefined || creditNote.incomplete === false && creditNote.state.status === 'unissued') {
          violationTotal += 1;
          if (judged.length < KEPT) {
            judged.push({
              kind: 'approval_without_credit_note',
              streamId,
              at: null,
              message: `${streamId}: approved with credit note ${decision.creditNoteId}, which the log never issues`,
            });
          }
        }
      }
      stuck.sort((a, b) => Date.parse(a.since) - Date.parse(b.since));
      const refundRequests: LogReplayReport['refundRequests'] = {
        count: requests.size,
        statuses: Object.fromEntries(
          refundRequestMachineStatuses.filter((status) => status !== 'unsubmitted').map((status) => [status, 0]),
        ) as LogReplayReport['refundRequests']['statuses'],
        incomplete: [],
      };
      for (const [streamId, record] of requests) {
        if (record.incomplete) refundRequests.incomplete.push(streamId.slice(REFUND_REQUEST_STREAM_PREFIX.length));
        else if (record.state.status !== 'unsubmitted') refundRequests.statuses[record.state.status] += 1;
      }
      return {
        read,
        events,
        creditNotes: counted,
        payments: onlyStream === null ? payments.size : onlyPaymentStream !== null && payments.has(onlyPaymentStream) ? 1 : 0,
        order: events === 0 ? 'empty' : ordered ? 'commit' : 'unordered',
        statuses,
        incomplete,
        stuck,
        refundRequests,
        violations: judged,
        violationCount: violationTotal,
        badLines: [...badLines],
        badLineCount,
        asOf: options.asOf.toISOString(),
        stuckAfterDays: options.stuckAfterDays,
      };
    },
  };

  function newCreditNote(): CreditNoteRecord {
    return { version: 0, state: initialCreditNoteState, since: '', refunds: null, incomplete: false };
  }
};

/** What a credit note still waits for, in plain words. */
export const waitingFor = ({ status, context }: CreditNoteState): string => {
  const refund = context.refund;
  if (status === 'pending') {
    if (context.pendingReason === 'charge_not_confirmed') {
      return `waiting for ${context.payment === null ? 'the processor' : processorName(context.payment.processor)} to confirm the charge`;
    }
    if (context.pendingReason === 'transient_error' && context.transientError !== null) {
      const { code, retryAt } = context.transientError;
      return `attempt ${refund?.attempt ?? '?'} in doubt after ${code}; ${retryAt === null ? 'automatic retries used up: a person must retry' : `next try at ${retryAt}`}`;
    }
    if (context.pendingReason === 'retry_requested') return 'a retry was asked for and not yet sent to the processor';
    return 'pending';
  }
  if (refund === null) return 'no refund attempt recorded';
  if (refund.status === 'requested') return `attempt ${refund.attempt} asked of ${context.payment === null ? 'the processor' : processorName(context.payment.processor)}, no answer recorded`;
  if (refund.status === 'in_doubt') return `attempt ${refund.attempt} in doubt: the processor may or may not hold the refund`;
  const reason = refund.processorPendingReason === null ? '' : ` (${refund.processorPendingReason.replace(/_/g, ' ')})`;
  const at = context.payment === null ? 'the processor' : processorName(context.payment.processor);
  return `refund ${refund.processorRefundId ?? '?'} ${refund.processorStatus?.replace(/_/g, ' ') ?? 'accepted'} at ${at}${reason}`;
};
