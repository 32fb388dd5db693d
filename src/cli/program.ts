import { Command, InvalidArgumentError, Option } from 'commander';
import { toMermaid } from '../machine/mermaid.js';
import type { Streams } from './output.js';
import { EXIT, runReplay } from './replayCommand.js';
import { runExplain } from './explainCommand.js';
import { UnusableInputError } from './sources.js';
import { runExport, runImport } from './transferCommands.js';

/*
 * `refund-lifecycle <command>`: the package's bin. Each command's action
 * resolves to its exit code; `run` maps usage mistakes and unusable input
 * to 2 with the reason on stderr.
 */

const days = (value: string): number => {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0) throw new InvalidArgumentError('a number of days, 0 or more');
  return parsed;
};
const position = (value: string): number => {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 0) throw new InvalidArgumentError('a global position, 0 or more');
  return parsed;
};
const instantOption = (value: string): Date => {
  const parsed = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(parsed.getTime())) throw new InvalidArgumentError('an ISO 8601 date or instant, e.g. 2026-11-30T12:00:00Z');
  return parsed;
};

const storeOptions = (command: Command) =>
  command
    .option('--db <url>', 'a PostgreSQL store (connection string; needs the pg package)')
    .option('--pglite <dir>', 'a PGlite store directory (needs @electric-sql/pglite)')
    .option('--schema <name>', 'the store\'s PostgreSQL schema (default refund_lifecycle)');

export const buildProgram = (streams: Streams, done: (exitCode: number) => void): Command => {
  const program = new Command('refund-lifecycle')
    .description('Replay, explain, export and import refund-lifecycle event logs.')
    .configureOutput({ writeOut: (text) => streams.stdout.write(text), writeErr: (text) => streams.stderr.write(text) })
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();

  const formatOption = (choices: string[]) => new Option('--format <format>', 'output format').choices(choices).default(choices[0]);

  storeOptions(
    program
      .command('replay')
      .summary('validate and fold a log; report statuses, stuck credit notes and invariant violations')
      .description(
        'Validates every event (upcasting older schema versions), folds each credit note and reports: credit notes per status, ' +
          'stuck ones, and invariant violations (versions out of order, transitions the lifecycle forbids, events after settlement, ' +
          'two refunds for one attempt, a refund on two credit notes, a payment refunded beyond its charge).\n' +
          'Reads a JSONL log (one event per line: an export, readAll output, or one credit note\'s history), or a store. ' +
          'Memory grows with the number of credit notes, not of events.\n\n' +
          'Exit codes: 0 clean, 1 violations or bad lines found, 2 unusable input.',
      )
      .argument('[file]', 'JSONL log, or - for stdin'),
  )
    .option('--credit-note <id>', 'replay only this credit note')
    .addOption(formatOption(['table', 'json']))
    .option('--strict', 'stop at the first bad line (exit 2) instead of reporting and skipping it', false)
    .option('--stuck-after <days>', 'a credit note requested or pending longer than this is stuck', days, 7)
    .option('--as-of <instant>', 'measure ages to this instant instead of now', instantOption)
    .action(async (file: string | undefined, options: { creditNote?: string; format: 'table' | 'json'; strict: boolean; stuckAfter: number; asOf?: Date; db?: string; pglite?: string; schema?: string }) => {
      done(await runReplay(file, { ...options, asOf: options.asOf ?? new Date() }, streams));
    });

  storeOptions(
    program
      .command('explain')
      .summary("tell one credit note's life as a timeline")
      .description(
        'Each event with the status before and after, who or what caused it, and the side effects it made owed with whether they ran ' +
          '(from a store: its outbox; from a file: the processor\'s answers to refund calls).\n\n' +
          'Exit codes: 0 explained, 1 the story holds events the lifecycle rejects or invalid lines, 2 not found or unusable input.',
      )
      .argument('<creditNoteId>', 'the credit note'),
  )
    .option('--from <file>', 'JSONL log, or - for stdin')
    .addOption(formatOption(['text', 'json']))
    .action(async (creditNoteId: string, options: { from?: string; format: 'text' | 'json'; db?: string; pglite?: string; schema?: string }) => {
      done(await runExplain(creditNoteId, options, streams));
    });

  storeOptions(
    program
      .command('export')
      .summary("stream a store's global log as JSONL to stdout")
      .description("Every event in commit order, one JSON object per line, as stored (older schema versions kept as written).")
      .option('--since <position>', 'only events after this global position', position, 0),
  ).action(async (options: { since: number; db?: string; pglite?: string; schema?: string }) => {
    done(await runExport(options, streams));
  });

  storeOptions(
    program
      .command('import')
      .summary('load a JSONL log into a store, idempotently')
      .description(
        'Appends the log\'s events to a store (migrating it first) with their read-model rows and refund links. Events the store ' +
          'already holds are skipped, so importing twice writes nothing new and an interrupted import resumes. ' +
          'Side effects are not enqueued: the log is history.\n\nExit codes: 0 imported, 1 refused (a bad line, a conflicting event), 2 unusable input.',
      )
      .argument('<file>', 'JSONL log, or - for stdin'),
  ).action(async (file: string, options: { db?: string; pglite?: string; schema?: string }) => {
    done(await runImport(file, options, streams));
  });

  program
    .command('diagram')
    .summary('print the lifecycle as a Mermaid state diagram')
    .action(() => {
      streams.stdout.write(`${toMermaid()}\n`);
      done(EXIT.clean);
    });

  program
    .command('demo')
    .summary('run four credit notes through the lifecycle and print their timeline')
    .description('The demo on PGlite (embedded PostgreSQL) with a fake processor; exit code 1 if any of its checks fails.')
    .option('--dir <path>', 'where PGlite keeps the demo database (memory:// for none)')
    .option('--reset', 'empty the demo database first', false)
    .action(async (options: { dir?: string; reset: boolean }) => {
      const { runDemoCli } = await import('./demo/demo.js');
      const result = await runDemoCli([...(options.reset ? ['--reset'] : []), ...(options.dir === undefined ? [] : ['--dir', options.dir])], streams.env);
      streams.stdout.write(`${result.lines.join('\n')}\n`);
      done(result.passed ? EXIT.clean : EXIT.problems);
    });

  return program;
};

/** Runs the CLI on `argv` (without node and the script) and resolves to the exit code. */
export const runCli = async (argv: readonly string[], streams: Streams): Promise<number> => {
  let exitCode: number = EXIT.clean;
  const program = buildProgram(streams, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    const { code, exitCode: commanderExit } = error as { code?: unknown; exitCode?: unknown };
    // Asked-for help is a success; help shown because no command was given is a usage error.
    if (typeof code === 'string' && code.startsWith('commander.')) return commanderExit === 0 ? EXIT.clean : EXIT.unusable;
    if (error instanceof UnusableInputError) {
      streams.stderr.write(`refund-lifecycle: ${error.message}\n`);
      return EXIT.unusable;
    }
    throw error;
  }
};
