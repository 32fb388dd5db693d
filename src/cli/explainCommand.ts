import { isPaymentEvent, type DomainEvent } from '../events/envelope.js';
import { parseLoggedEvent } from '../events/parseEvent.js';
import { creditNoteStreamId, PAYMENT_STREAM_PREFIX, paymentStreamId } from '../lifecycle/streams.js';
import { explainCreditNote, type CreditNoteExplanation } from '../logs/explainCreditNote.js';
import { instant } from '../logs/narrate.js';
import type { OutboxEntry } from '../ports/eventStore.js';
import { colourful, paint, progressBar, type Streams } from './output.js';
import { EXIT } from './replayCommand.js';
import { inputSize, jsonlLines, openInput, openStore, readableStore, UnusableInputError, type StoreOptions } from './sources.js';

export type ExplainOptions = StoreOptions & { from?: string; format: 'text' | 'json' };

type Gathered = { events: DomainEvent[]; paymentEvents: DomainEvent[]; outbox: OutboxEntry[] | null; warnings: string[] };

const parsedOrWarning = (raw: unknown, where: string, warnings: string[]): DomainEvent | null => {
  const parsed = parseLoggedEvent(raw);
  if (parsed.isOk()) return parsed.value;
  warnings.push(`${where}: ${parsed.error.message}`);
  return null;
};

/**
 * One pass over a log: the credit note's events, and every payment's facts (two small events per payment), since
 * which payment is the credit note's is known only once its issue is read and a log may hold the payment first.
 */
const gatherFromFile = async (file: string, creditNoteId: string, streams: Streams): Promise<Gathered> => {
  const streamId = creditNoteStreamId(creditNoteId);
  const events: DomainEvent[] = [];
  const paymentFacts = new Map<string, DomainEvent[]>();
  const warnings: string[] = [];
  const input = openInput(file);
  const progress = progressBar(streams, inputSize(file), 'explain');
  try {
    for await (const lines of jsonlLines(input, progress.add)) {
      for (const line of lines) {
        if ('bad' in line) continue;
        const candidate = (line.raw as { streamId?: unknown } | null)?.streamId;
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
  return { events, paymentEvents: payment === null ? [] : (paymentFacts.get(paymentStreamId(payment.paymentId)) ?? []), outbox: null, warnings };
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
      gathered = { events, paymentEvents, outbox: await opened.store.listOutbox({ streamId }), warnings };
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
  const lines = [p.bold(`Credit note ${explanation.creditNoteId}: ${explanation.state.status}`), explanation.now, ''];
  for (const step of explanation.steps) {
    const move = step.from === step.to ? (step.event.streamId.startsWith(PAYMENT_STREAM_PREFIX) ? 'payment' : step.from) : `${step.from} → ${step.to}`;
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
