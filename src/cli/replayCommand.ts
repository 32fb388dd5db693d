import { createLogReplay, type LogReplayReport } from '../logs/logReplay.js';
import { instant } from '../logs/narrate.js';
import { colourful, count, paint, progressBar, table, type Streams } from './output.js';
import { inputSize, jsonlLines, openInput, openStore, readableStore, storeEvents, UnusableInputError, type StoreOptions } from './sources.js';

export type ReplayOptions = StoreOptions & {
  format: 'table' | 'json';
  strict: boolean;
  creditNote?: string;
  stuckAfter: number;
  asOf: Date;
};

/** Exit codes: 0 clean, 1 violations or skipped lines, 2 unusable input. */
export const EXIT = { clean: 0, problems: 1, unusable: 2 } as const;

/** How many rows of each list the table shows; `--format json` has them all (up to 10,000). */
const SHOWN = 50;

export const runReplay = async (file: string | undefined, options: ReplayOptions, streams: Streams): Promise<number> => {
  const replay = createLogReplay({
    asOf: options.asOf,
    stuckAfterDays: options.stuckAfter,
    ...(options.creditNote === undefined ? {} : { creditNoteId: options.creditNote }),
  });
  const fromStore = options.db !== undefined || options.pglite !== undefined;
  if (fromStore && file !== undefined) throw new UnusableInputError(`give a file or ${options.db !== undefined ? '--db' : '--pglite'}, not both`);
  const opened = await openStore(options);
  let source: string;
  if (opened !== null) {
    source = opened.where;
    try {
      await readableStore(opened);
      for await (const page of storeEvents(opened.store)) {
        const valid = page.every((event) => replay.add(event, { position: event.globalPosition }) || !options.strict);
        if (!valid) break;
      }
    } finally {
      await opened.close();
    }
  } else {
    if (file === undefined) throw new UnusableInputError('give a JSONL file (or - for stdin), --db <url> or --pglite <dir>');
    source = file === '-' ? 'stdin' : file;
    const input = openInput(file);
    const progress = progressBar(streams, inputSize(file), 'replay');
    try {
      reading: for await (const lines of jsonlLines(input, progress.add)) {
        for (const line of lines) {
          const valid = 'bad' in line ? replay.reject(line.at, line.bad, line.text) : replay.add(line.raw, line.at);
          if (!valid && options.strict) break reading;
        }
      }
    } finally {
      progress.stop();
      input.destroy();
    }
  }
  const report = replay.report();
  if (options.creditNote !== undefined && report.creditNotes === 0) {
    streams.stderr.write(`refund-lifecycle replay: no events of credit note ${options.creditNote} in ${source}\n`);
    return EXIT.unusable;
  }
  if (options.strict && report.badLineCount > 0) {
    const first = report.badLines[0]!;
    streams.stderr.write(`refund-lifecycle replay: ${where(first.at)}: ${first.message} (--strict stops at the first bad line)\n`);
    return EXIT.unusable;
  }
  const exitCode = report.violationCount > 0 || report.badLineCount > 0 ? EXIT.problems : EXIT.clean;
  if (options.format === 'json') streams.stdout.write(`${JSON.stringify({ source, ...report, exitCode }, null, 2)}\n`);
  else streams.stdout.write(`${replayTable(source, report, exitCode, colourful(streams.stdout, streams.env)).join('\n')}\n`);
  return exitCode;
};

const where = (at: { line: number } | { position: number } | null): string =>
  at === null ? 'whole log' : 'line' in at ? `line ${at.line}` : `position ${at.position}`;

const more = (shown: number, total: number) =>
  total > shown ? [`… and ${count(total - shown)} more (--format json lists up to 10,000)`] : [];

export const replayTable = (source: string, report: LogReplayReport, exitCode: number, colour: boolean): string[] => {
  const p = paint(colour);
  const order = { commit: 'positions in order', unordered: 'positions not in order (e.g. grouped by stream)', empty: 'no events' }[report.order];
  // A log without refund requests prints as it always did.
  const requests = report.refundRequests;
  const requestCount = requests.count > 0 ? `, ${count(requests.count)} refund request${requests.count === 1 ? '' : 's'}` : '';
  const notJudged = (ids: readonly string[]) =>
    `not judged (a line of theirs was skipped): ${count(ids.length)} — ${ids.slice(0, 10).join(', ')}${ids.length > 10 ? ', …' : ''}`;
  const lines = [
    p.bold(`Replayed ${source}`),
    `${count(report.read)} lines, ${count(report.events)} events, ${count(report.creditNotes)} credit notes, ${count(report.payments)} payments${requestCount}; ${order}.`,
    p.dim(`As of ${instant(report.asOf)}; stuck = requested or pending for more than ${report.stuckAfterDays} days.`),
    '',
    ...table(['Status', 'Credit notes'], Object.entries(report.statuses).map(([status, n]) => [status, count(n)]), ['left', 'right']),
  ];
  if (report.incomplete.length > 0) lines.push(notJudged(report.incomplete));
  if (requests.count > 0) {
    lines.push('', ...table(['Status', 'Refund requests'], Object.entries(requests.statuses).map(([status, n]) => [status, count(n)]), ['left', 'right']));
    if (requests.incomplete.length > 0) lines.push(notJudged(requests.incomplete));
  }
  lines.push('', p.bold(`Stuck (${count(report.stuck.length)})`));
  if (report.stuck.length === 0) lines.push(p.dim('none'));
  else {
    lines.push(
      ...table(
        ['Credit note', 'Status', 'Since', 'Age', 'Waiting for'],
        report.stuck.slice(0, SHOWN).map((s) => [s.creditNoteId, s.inDoubt ? `${s.status}, in doubt` : s.status, instant(s.since), `${s.ageDays.toFixed(1)} d`, s.why]),
        ['left', 'left', 'left', 'right', 'left'],
      ),
      ...more(SHOWN, report.stuck.length),
    );
  }
  lines.push('', p.bold(`Violations (${count(report.violationCount)})`));
  if (report.violationCount === 0) lines.push(p.green('none'));
  else {
    lines.push(
      ...table(['At', 'Kind', 'Detail'], report.violations.slice(0, SHOWN).map((v) => [where(v.at), p.red(v.kind), v.message])),
      ...more(SHOWN, report.violationCount),
    );
  }
  if (report.badLineCount > 0) {
    lines.push(
      '',
      p.bold(`Bad lines skipped (${count(report.badLineCount)})`),
      ...table(['At', 'Problem'], report.badLines.slice(0, SHOWN).map((bad) => [where(bad.at), p.yellow(bad.message)])),
      ...more(SHOWN, report.badLineCount),
    );
  }
  const verdict =
    exitCode === 0
      ? p.green('Clean: every event valid, every invariant holds.')
      : p.red(`${count(report.violationCount)} violation${report.violationCount === 1 ? '' : 's'}, ${count(report.badLineCount)} bad line${report.badLineCount === 1 ? '' : 's'}.`);
  lines.push('', verdict);
  return lines;
};
