import { importLog, type LogLine } from '../logs/importLog.js';
import { count, progressBar, type Streams } from './output.js';
import { EXIT } from './replayCommand.js';
import { inputSize, jsonlLines, openInput, openStore, readableStore, storeEvents, UnusableInputError, type StoreOptions } from './sources.js';

/*
 * `export` and `import`: a store's global log out as JSONL, and a JSONL log
 * into a store. An export imported elsewhere rebuilds the same credit notes.
 */

const storeRequired = async (options: StoreOptions, command: 'export' | 'import') => {
  const opened = await openStore(options, command === 'import' ? 'write' : 'read');
  if (opened === null) throw new UnusableInputError(`${command} needs a store: --db <url> or --pglite <dir>`);
  return opened;
};

/** Waits for the pipe to drain, so a slow consumer (`| gzip`) holds the export back instead of memory filling up. */
const write = (stream: NodeJS.WritableStream, text: string) =>
  stream.write(text) ? Promise.resolve() : new Promise<void>((resolve) => stream.once('drain', resolve));

export const runExport = async (options: StoreOptions & { since: number }, streams: Streams): Promise<number> => {
  const opened = await storeRequired(options, 'export');
  let exported = 0;
  try {
    await readableStore(opened);
    for await (const page of storeEvents(opened.store, options.since)) {
      await write(streams.stdout, `${page.map((event) => JSON.stringify(event)).join('\n')}\n`);
      exported += page.length;
    }
  } finally {
    await opened.close();
  }
  streams.stderr.write(`refund-lifecycle export: ${count(exported)} events from ${opened.where}${options.since > 0 ? ` after position ${options.since}` : ''}\n`);
  return EXIT.clean;
};

async function* logLines(file: string, streams: Streams): AsyncGenerator<LogLine> {
  const input = openInput(file);
  const progress = progressBar(streams, inputSize(file), 'import');
  try {
    for await (const lines of jsonlLines(input, progress.add)) yield* lines;
  } finally {
    progress.stop();
    input.destroy();
  }
}

export const runImport = async (file: string, options: StoreOptions, streams: Streams): Promise<number> => {
  const opened = await storeRequired(options, 'import');
  try {
    try {
      await opened.store.migrate();
    } catch (error) {
      throw new UnusableInputError(`cannot prepare ${opened.where}: ${error instanceof Error ? error.message : String(error)}`);
    }
    const imported = await importLog(opened.store, logLines(file, streams));
    if (imported.isErr()) {
      const { message, reason, imported: before } = imported.error;
      streams.stderr.write(`refund-lifecycle import: ${message} (${reason}); ${count(before)} events were written before it: fix it and import again to go on\n`);
      return EXIT.problems;
    }
    const report = imported.value;
    streams.stdout.write(
      `Imported ${count(report.appended)} events into ${opened.where} (${count(report.alreadyPresent)} already there), ` +
        `in ${count(report.appends)} appends; ${count(report.creditNotesWritten)} credit-note read-model rows written` +
        (report.refundRequestsWritten === 0 ? '.\n' : `, ${count(report.refundRequestsWritten)} refund-request rows.\n`),
    );
    return EXIT.clean;
  } finally {
    await opened.close();
  }
};
