import { isPaymentEvent, type DomainEvent } from '../events/envelope.js';
import { parseLoggedEvent } from '../events/parseEvent.js';
import { creditNoteStreamId, PAYMENT_STREAM_PREFIX, paymentStreamId } from '../lifecycle/streams.js';
import { explainCreditNote, type CreditNoteExplanation } from '../logs/explainCreditNote.js';
import type { LogLocation } from '../logs/logReplay.js';
import { instant } from '../logs/narrate.js';
import type { EventStore, OutboxEntry } from '../ports/eventStore.js';
import { REFUND_REQUEST_STREAM_PREFIX, refundRequestStreamId } from '../requests/refundRequestStream.js';
import { colourful, paint, progressBar, type Streams } from './output.js';
import { EXIT } from './replayCommand.js';
import { inputSize, jsonlLines, openInput, openStore, readableStore, UnusableInputError, type StoreOptions } from './sources.js';

export type ExplainOptions = StoreOptions & { from?: string; format: 'text' | 'json' };

type Gathered = { events: DomainEvent[]; paymentEvents: DomainEvent[]; requestEvents: DomainEvent[]; outbox: OutboxEntry[] | null; warnings: string[] };

/** An approval that issued this credit note (a raw line or a parsed event alike). */
const approves = (raw: unknown, creditNoteId: string): boolean => {
  const event = raw as { type?: unknown; data?: { creditNoteId?: unknown } | null } | null;
  return event?.type === 'RefundRequestApproved' && event.data?.creditNoteId === creditNoteId;
};

const parsedOrWarning = (raw: unknown, where: string, warnings: string[]): DomainEvent | null => {
  const parsed = parseLoggedEvent(raw);
  if (parsed.isOk()) return parsed.value;
  warnings.push(`${where}: ${parsed.error.message}`);
  return null;
};

/**
 * One pass over a log: the credit note's events, and every payment's facts (two small events per payment), since
 * which payment is the credit note's is known only once its issue is read and a log may hold the payment first.
 * Likewise the refund requests' lines (a submission each) until an approval names this credit note: that request's
 * stream is then the only one kept.
 */
const gatherFromFile = async (file: string, creditNoteId: string, streams: Streams): Promise<Gathered> => {
  const streamId = creditNoteStreamId(creditNoteId);
  const events: DomainEvent[] = [];
  const paymentFacts = new Map<string, DomainEvent[]>();
  const requestLines = new Map<string, Array<{ raw: unknown; at: LogLocation }>>();
  let requestStream: string | null = null;
  const warnings: string[] = [];
  const input = openInput(file);
  const progress = progressBar(streams, inputSize(file), 'explain');
  try {
    for await (const lines of jsonlLines(input, progress.add)) {
      for (const line of lines) {
        if ('bad' in line) continue;
        const candidate = (line.raw as { streamId?: unknown } | null)?.streamId;
        if (typeof candidate === 'string' && candidate.startsWith(REFUND_REQUEST_STREAM_PREFIX)) {
          if (requestStream !== null && candidate !== requestStream) continue;
          if (requestStream === null && approves(line.raw, creditNoteId)) {
            // This request's lines so far (its submission) stay; the other requests' are dropped.
            requestStream = candidate;
            const own = requestLines.get(candidate) ?? [];
            requestLines.clear();
            requestLines.set(candidate, own);
          }
          requestLines.set(candidate, [...(requestLines.get(candidate) ?? []), { raw: line.raw, at: line.at }]);
          continue;
        }
        if (candidate !== streamId && !(typeof candidate === 'string' && candidate.startsWith(PAYMENT_STREAM_PREFIX))) continue;
        const event = parsedOrWarning(line.raw, `line ${line.at.line}`, candidate === streamId ? warnings : []);
        if (event === null) continue;
        if (event.streamId === streamId) events.push(event);
        else if (isPaymentEvent(event) && (event.type === 'PaymentDescribed' || event.type === 'ChargeConfirmed')) {
          paymentFacts.set(event.streamId, [...(paymentFacts.get(event.streamId) ?? []), event]);
        }
      }
    }
  } finally {
    progress.stop();
    input.destroy();
  }
  events.sort((a, b) => a.streamVersion - b.streamVersion);
  const issued = events.find((event) => event.type === 'CreditNoteIssued');
  const payment = issued?.type === 'CreditNoteIssued' ? issued.data.payment : null;
  const requestEvents = (requestStream === null ? [] : (requestLines.get(requestStream) ?? [])).flatMap(
    ({ raw, at }) => parsedOrWarning(raw, 'line' in at ? `line ${at.line}` : `position ${at.position}`, warnings) ?? [],
  );
  return {
    events,
    paymentEvents: payment === null ? [] : (paymentFacts.get(paymentStreamId(payment.paymentId)) ?? []),
    requestEvents,
    outbox: null,
    warnings,
  };
};

/**
 * The stream of the refund request whose approval issued the credit note: through the requests read model (the
 * payment's requests, the row naming the credit note), else the default credit note id `rr-<requestId>`, kept only
 * when its approval names this credit note.
 */
const requestStreamOf = async (store: EventStore, creditNoteId: string, paymentId: string | null): Promise<string | null> => {
  if (paymentId !== null) {
    const limit = 100;
    let after: { submittedAt: string; requestId: string } | undefined;
    for (;;) {
      const page = await store.listRefundRequests({ paymentId, limit, ...(after === undefined ? {} : { after }) });
      const found = page.find((row) => row.creditNoteId === creditNoteId);
      if (found !== undefined) return found.streamId;
      if (page.length < limit) break;
      const last = page.at(-1)!;
      after = { submittedAt: last.submittedAt, requestId: last.requestId };
    }
  }
  if (!creditNoteId.startsWith('rr-')) return null;
  const candidate = refundRequestStreamId(creditNoteId.slice('rr-'.length));
  const { events } = await store.readStream(candidate);
  return events.some((event) => approves(event, creditNoteId)) ? candidate : null;
};

export const runExplain = async (creditNoteId: string, options: ExplainOptions, streams: Streams): Promise<number> => {
  if ((options.db !== undefined || options.pglite !== undefined) && options.from !== undefined) {
    throw new UnusableInputError('give --from <file> or a store, not both');
  }
  const opened = await openStore(options);
  let gathered: Gathered;
  if (opened !== null) {
    try {
      await readableStore(opened);
      const warnings: string[] = [];
      const streamId = creditNoteStreamId(creditNoteId);
      const valid = (raw: unknown[], name: string) =>
        raw.flatMap((event, index) => parsedOrWarning(event, `${name}[${index}]`, warnings) ?? []);
      const events = valid((await opened.store.readStream(streamId)).events, streamId);
      const issued = events.find((event) => event.type === 'CreditNoteIssued');
      const payment = issued?.type === 'CreditNoteIssued' ? issued.data.payment : null;
      const paymentEvents = payment === null ? [] : valid((await opened.store.readStream(paymentStreamId(payment.paymentId))).events, paymentStreamId(payment.paymentId));
      const requestStream = events.length === 0 ? null : await requestStreamOf(opened.store, creditNoteId, payment?.paymentId ?? null);
      const requestEvents = requestStream === null ? [] : valid((await opened.store.readStream(requestStream)).events, requestStream);
      gathered = { events, paymentEvents, requestEvents, outbox: await opened.store.listOutbox({ streamId }), warnings };
    } finally {
      await opened.close();
    }
  } else {
    if (options.from === undefined) throw new UnusableInputError('give --from <file> (or - for stdin), --db <url> or --pglite <dir>');
    gathered = await gatherFromFile(options.from, creditNoteId, streams);
  }
  for (const warning of gathered.warnings) streams.stderr.write(`refund-lifecycle explain: skipped ${warning}\n`);
  if (gathered.events.length === 0) {
    streams.stderr.write(`refund-lifecycle explain: no events of credit note ${creditNoteId} in ${opened?.where ?? options.from}\n`);
    return EXIT.unusable;
  }
  const explanation = explainCreditNote({ creditNoteId, ...gathered });
  if (options.format === 'json') streams.stdout.write(`${JSON.stringify(explanation, null, 2)}\n`);
  else streams.stdout.write(`${explanationText(explanation, colourful(streams.stdout, streams.env)).join('\n')}\n`);
  return explanation.steps.every((step) => step.accepted) && gathered.warnings.length === 0 ? EXIT.clean : EXIT.problems;
};

const RUN_MARK: Record<string, string> = {
  done: '✓',
  answered: '✓',
  gave_up: '✗',
  no_answer: '?',
  in_progress: '…',
  due: '…',
  unknown: '?',
};

export const explanationText = (explanation: CreditNoteExplanation, colour: boolean): string[] => {
  const p = paint(colour);
  const lines = [p.bold(`Credit note ${explanation.creditNoteId}: ${explanation.state.status}`), explanation.now];
  if (explanation.requestId !== null) lines.push(`Issued on the approval of refund request ${explanation.requestId}.`);
  lines.push('');
  for (const step of explanation.steps) {
    const move =
      step.from !== step.to
        ? `${step.from} → ${step.to}`
        : step.event.streamId.startsWith(PAYMENT_STREAM_PREFIX)
          ? 'payment'
          : step.event.streamId.startsWith(REFUND_REQUEST_STREAM_PREFIX)
            ? 'refund request'
            : step.from;
    lines.push(`${p.dim(instant(step.event.occurredAt))}  ${p.bold(move)}${step.accepted ? '' : `  ${p.red('REJECTED: not allowed from this status')}`}`);
    lines.push(`  ${step.said}`);
    lines.push(p.dim(`  ${step.cause} · ${step.event.type} v${step.event.streamVersion}`));
    for (const effect of step.owed) {
      const mark = RUN_MARK[effect.run] ?? '?';
      const shown = effect.run === 'gave_up' ? p.red(`${mark} ${effect.detail}`) : effect.run === 'done' || effect.run === 'answered' ? p.green(`${mark} ${effect.detail}`) : p.yellow(`${mark} ${effect.detail}`);
      lines.push(`  owes: ${effect.what} — ${shown}`);
    }
  }
  return lines;
};
