import fs from 'node:fs';
import type { Readable } from 'node:stream';
import type { EventStore, StoredEvent } from '../index.js';

/*
 * Where a command reads events from: a JSONL file (or stdin), or a store
 * opened from `--db <url>` (PostgreSQL) or `--pglite <dir>`. The drivers are
 * optional peers, loaded only when asked for.
 */

/** Input the command cannot use at all (missing file, unreachable database): exit code 2. */
export class UnusableInputError extends Error {}

export type StoreOptions = { db?: string; pglite?: string; schema?: string };

/** Reading commands never create a store: PGlite would make an empty database in a mistyped directory. */
export type OpenPurpose = 'read' | 'write';

export type OpenedStore = { store: EventStore & { migrate(): Promise<unknown> }; where: string; close(): Promise<void> };

const missingDriver = (name: string, option: string, error: unknown) =>
  new UnusableInputError(`${option} needs the optional package ${name}: npm install ${name} (${error instanceof Error ? error.message : String(error)})`);

export const openStore = async (options: StoreOptions, purpose: OpenPurpose = 'read'): Promise<OpenedStore | null> => {
  if (options.db !== undefined && options.pglite !== undefined) throw new UnusableInputError('give either --db or --pglite, not both');
  const schema = options.schema === undefined ? {} : { schema: options.schema };
  if (options.db !== undefined) {
    let adapter: typeof import('../adapters/postgres/index.js');
    try {
      adapter = await import('../adapters/postgres/index.js');
    } catch (error) {
      throw missingDriver('pg', '--db', error);
    }
    const store = adapter.postgresStore({ connectionString: options.db, ...schema });
    return { store, where: redact(options.db), close: () => store.close() };
  }
  if (options.pglite !== undefined) {
    if (purpose === 'read' && !options.pglite.includes('://') && !fs.existsSync(options.pglite)) {
      throw new UnusableInputError(`no PGlite store at ${options.pglite}`);
    }
    let adapter: typeof import('../adapters/pglite/index.js');
    try {
      adapter = await import('../adapters/pglite/index.js');
    } catch (error) {
      throw missingDriver('@electric-sql/pglite', '--pglite', error);
    }
    let db: Awaited<ReturnType<typeof adapter.openPglite>>;
    try {
      db = await adapter.openPglite(options.pglite);
    } catch (error) {
      throw missingDriver('@electric-sql/pglite', '--pglite', error);
    }
    const store = adapter.pgliteStore({ db, ...schema });
    return { store, where: `PGlite ${options.pglite}`, close: () => db.close() };
  }
  return null;
};

/** A store's read fails on a schema that was never migrated: say so instead of PostgreSQL's words. */
export const readableStore = async (opened: OpenedStore): Promise<void> => {
  try {
    await opened.store.readAll({ limit: 1 });
  } catch (error) {
    throw new UnusableInputError(
      `cannot read events from ${opened.where}: ${error instanceof Error ? error.message : String(error)} (is it a refund-lifecycle store? give --schema if it is not the default)`,
    );
  }
};

/** Connection strings carry passwords; messages must not. */
const redact = (url: string): string => url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');

/** A file's size, for the progress bar; null for stdin. */
export const inputSize = (path: string): number | null => (path === '-' ? null : fs.statSync(path).size);

export const openInput = (path: string): Readable => {
  if (path === '-') return process.stdin;
  try {
    fs.accessSync(path, fs.constants.R_OK);
  } catch (error) {
    throw new UnusableInputError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  if (!fs.statSync(path).isFile()) throw new UnusableInputError(`${path} is not a file`);
  // 64 KB chunks, as fs streams read by default: strings decoded from chunks above ~128 KB land in V8's large-object
  // space and die only at a full mark-compact (measured in bench/replayMemory.ts: 1 MB chunks cost ~60 MB of peak RSS).
  return fs.createReadStream(path, { highWaterMark: 64 << 10 });
};

export type JsonlLine = { raw: unknown; at: { line: number } } | { bad: string; at: { line: number }; text: string };

/**
 * The lines of a JSONL input, parsed, with their line numbers; blank lines
 * are skipped, a line that is not JSON comes back as `bad`. Batched per chunk
 * read, so a million lines do not cost a million awaits.
 */
export async function* jsonlLines(input: Readable, onBytes?: (bytes: number) => void): AsyncGenerator<JsonlLine[]> {
  let rest = '';
  let line = 0;
  const decoder = new TextDecoder('utf-8', { fatal: false });
  const parse = (text: string): JsonlLine => {
    line += 1;
    const trimmed = text.endsWith('\r') ? text.slice(0, -1) : text;
    try {
      return { raw: JSON.parse(trimmed), at: { line } };
    } catch (error) {
      return { bad: `not JSON: ${error instanceof Error ? error.message : String(error)}`, at: { line }, text: trimmed };
    }
  };
  for await (const chunk of input) {
    const bytes = chunk as Buffer | string;
    onBytes?.(bytes.length);
    const text = rest + (typeof bytes === 'string' ? bytes : decoder.decode(bytes, { stream: true }));
    const parts = text.split('\n');
    rest = parts.pop() ?? '';
    const out: JsonlLine[] = [];
    for (const part of parts) {
      if (part.trim() === '') line += 1;
      else out.push(parse(part));
    }
    if (out.length > 0) yield out;
  }
  rest += decoder.decode();
  if (rest.trim() !== '') yield [parse(rest)];
}

/** A store's global log in commit order, a page at a time. */
export async function* storeEvents(store: EventStore, after = 0, pageSize = 1_000): AsyncGenerator<StoredEvent[]> {
  let position = after;
  for (;;) {
    const page = await store.readAll({ after: position, limit: pageSize });
    if (page.length === 0) return;
    yield page;
    position = page[page.length - 1]!.globalPosition;
  }
}
