import { SingleBar } from 'cli-progress';

/*
 * Results go to stdout, everything else (progress, warnings, errors) to
 * stderr, so `refund-lifecycle replay log.jsonl --format json | jq` pipes
 * cleanly. Colour only on a terminal, and never when NO_COLOR is set
 * (no-color.org: present and not empty).
 */

export type Streams = { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream; env: NodeJS.ProcessEnv };

export const colourful = (stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv): boolean =>
  stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '');

export type Paint = { red(text: string): string; yellow(text: string): string; green(text: string): string; dim(text: string): string; bold(text: string): string };

const ansi = (open: number, close: number) => (text: string) => `\u001b[${open}m${text}\u001b[${close}m`;
const plain = (text: string) => text;

export const paint = (enabled: boolean): Paint =>
  enabled
    ? { red: ansi(31, 39), yellow: ansi(33, 39), green: ansi(32, 39), dim: ansi(2, 22), bold: ansi(1, 22) }
    : { red: plain, yellow: plain, green: plain, dim: plain, bold: plain };

/** A plain text table: columns padded to their widest cell (`right` for numbers), a rule under the header. */
export const table = (header: readonly string[], rows: ReadonlyArray<readonly string[]>, align: ReadonlyArray<'left' | 'right'> = []): string[] => {
  // Widths ignore colour codes, which take no room on screen.
  const visible = (cell: string) => cell.replace(/\u001b\[\d+m/g, '').length;
  const widths = header.map((cell, column) => Math.max(visible(cell), ...rows.map((row) => visible(row[column] ?? ''))));
  const pad = (cell: string, column: number) => {
    const room = ' '.repeat(Math.max(0, (widths[column] ?? 0) - visible(cell)));
    return align[column] === 'right' ? room + cell : cell + room;
  };
  const format = (row: readonly string[]) => row.map(pad).join('  ').trimEnd();
  return [format(header), widths.map((width) => '─'.repeat(width)).join('  '), ...rows.map(format)];
};

export const count = (n: number): string => n.toLocaleString('en-US');

/** Inputs below this size finish before a bar would be worth drawing. */
const PROGRESS_FROM_BYTES = 8 << 20;

/** A progress bar on stderr for a large input, when stderr is a terminal; otherwise nothing. */
export const progressBar = (streams: Streams, totalBytes: number | null, label: string) => {
  if (totalBytes === null || totalBytes < PROGRESS_FROM_BYTES || streams.stderr.isTTY !== true) {
    return { add: (_bytes: number) => {}, stop: () => {} };
  }
  const bar = new SingleBar({
    stream: streams.stderr,
    format: `${label} [{bar}] {percentage}% | {value}/{total} MB | ETA {eta_formatted}`,
    barCompleteChar: '=',
    barIncompleteChar: ' ',
    hideCursor: true,
    clearOnComplete: true,
    etaBuffer: 50,
  });
  const mb = (bytes: number) => Math.round(bytes / (1 << 20));
  let read = 0;
  bar.start(mb(totalBytes), 0);
  return {
    add(bytes: number) {
      read += bytes;
      bar.update(mb(read));
    },
    stop() {
      bar.stop();
    },
  };
};
