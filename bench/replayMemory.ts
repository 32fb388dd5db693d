/*
 * Issue 10, whole-process replay figures: events/s and peak RSS of replaying a
 * JSONL log of stored events in a fresh process per measurement, against
 * JSON.parse alone on the same file in the same run.
 *
 *   node --import tsx bench/replayMemory.ts                     # 1,000,000 and 5,000,000 events
 *   node --import tsx bench/replayMemory.ts --smoke             # 2,000 events, a few seconds
 *   node --import tsx bench/replayMemory.ts --events 200000 --repeat 3 --reader readline
 *   node --import tsx bench/replayMemory.ts --generate 1000000 --dir /tmp/logs   # write the two files and keep them
 *   node --import tsx bench/replayMemory.ts --bundle                # children run by plain node on an esbuild bundle
 *   node --import tsx bench/replayMemory.ts --child grouped /tmp/logs/grouped-1000000.jsonl [--reader sync]
 *   node --import tsx bench/replayMemory.ts --bundle-to /tmp/b   # then: node --cpu-prof /tmp/b/replay-memory-child.mjs --child …
 *
 * The log: N stored events (full envelope, globalPosition) of generated credit-note lifecycles, written twice,
 * in two orders of the very same events:
 *   - grouped: each credit note's events contiguous (a dump ordered by stream), globalPosition out of order;
 *   - global:  commit order, streams interleaved as in a real log, globalPosition 1…N.
 * Lifecycles start every ~30 s of simulated time and last seconds to days (refunds settle days later), so the
 * global log interleaves ~20k open credit notes; the cut at N events leaves the youngest ones open.
 *
 * Children (each a fresh `node --import tsx` process, so its peak RSS is its own; maxRSS includes tsx's loader):
 *   - baseline: read lines + JSON.parse each;
 *   - grouped:  + parseStoredEvent (zod) + foldCreditNote of each credit note's events when its stream ends
 *               (one stream held at a time);
 *   - global:   + parseStoredEvent + evolveCreditNote (fold.ts's step) into a Map streamId → CreditNoteState:
 *               memory grows with the number of credit notes, not of events.
 * Every replayed stream must be accepted by the machine (a rejection fails the child), and the grouped and global
 * replays of one log must end in the same number of credit notes per status.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { StringDecoder } from 'node:string_decoder';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { CreditNoteEvent } from '../src/events/creditNoteEvents.js';
import { CURRENT_SCHEMA_VERSION, isCreditNoteEvent, type StoredEvent } from '../src/events/envelope.js';
import { parseStoredEvent } from '../src/events/parseEvent.js';
import { initialCreditNoteState, type CreditNoteState } from '../src/machine/creditNoteState.js';
import { evolveCreditNote, foldCreditNote } from '../src/machine/fold.js';
import { seededRandom } from '../scripts/stress/protocol.js';
import { runCli } from '../src/cli/program.js';

// ─── the log ─────────────────────────────────────────────────────────────────

/** The stress scenario's seeded PRNG (mulberry32), so both files hold the very same events. */
const prng = seededRandom;
type Rng = () => number;

const hash32 = (n: number): number => {
  let h = Math.imul(n ^ 0x9e3779b9, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
};

const hex = (rng: Rng, length: number) => {
  let out = '';
  for (let i = 0; i < length; i += 1) out += '0123456789abcdef'[(rng() * 16) | 0];
  return out;
};
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const alnum = (rng: Rng, length: number) => {
  let out = '';
  for (let i = 0; i < length; i += 1) out += ALNUM[(rng() * ALNUM.length) | 0];
  return out;
};
const uuid = (rng: Rng) => `${hex(rng, 8)}-${hex(rng, 4)}-4${hex(rng, 3)}-${'89ab'[(rng() * 4) | 0]}${hex(rng, 3)}-${hex(rng, 12)}`;
const pick = <T>(rng: Rng, items: readonly T[]): T => items[(rng() * items.length) | 0]!;

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const EPOCH = Date.UTC(2025, 0, 1);
/** A credit note starts every 30 s on average: with refunds settling in days, ~20k are open at any instant. */
const INTERVAL = 30 * SECOND;
const startOf = (stream: number) => EPOCH + stream * INTERVAL + (hash32(stream) % INTERVAL);

const REASONS = [
  'Damaged on arrival',
  'Order cancelled before shipping',
  'Duplicate charge',
  'Goodwill gesture after a late delivery',
  'Returned within 30 days',
  'Wrong size, customer returned the item',
  'Subscription downgraded mid-cycle',
];
const USERS = Array.from({ length: 40 }, (_, i) => `user_${String(i + 1).padStart(4, '0')}`);
const CURRENCIES = ['eur', 'eur', 'eur', 'usd', 'usd', 'gbp'];
const ACCOUNTS = ['acct_1NqJ4sKx8aB2cD3e', 'acct_1PzR7tLm9nO0pQ1r', null];
const DISPATCHER = 'dispatcher-ec553fb8-dbb8-4d14-8088-03633824fdae';

type Actor = { kind: 'user' | 'system' | 'processor'; id: string };
type Source = 'command' | 'webhook' | 'refresh' | 'dispatcher' | 'dashboard' | 'import';
/** One stored event, keys in the store's order. */
type LogEvent = {
  eventId: string;
  streamId: string;
  streamVersion: number;
  schemaVersion: typeof CURRENT_SCHEMA_VERSION;
  occurredAt: string;
  actor: Actor;
  causationId: string | null;
  correlationId: string;
  source: Source;
  type: string;
  data: Record<string, unknown>;
  globalPosition: number;
};
type Timed = { at: number; stream: number; event: LogEvent };

/**
 * One credit note's whole lifecycle, the same for the same `stream` number: a mix of what a real log holds
 * (mostly issue → request → accept → succeed; some charge-gated, transient errors, failures and retries,
 * reversals, manual refunds, adoptions of dashboard refunds, notes still waiting).
 */
export const buildLifecycle = (stream: number): Timed[] => {
  const rng = prng(hash32(stream) ^ 0x5eed);
  const creditNoteId = `cn_${String(stream).padStart(8, '0')}`;
  const streamId = `credit-note-${creditNoteId}`;
  const amount = 100 + Math.floor(rng() * 49_900);
  const currency = pick(rng, CURRENCIES);
  const user: Actor = { kind: 'user', id: pick(rng, USERS) };
  const stripe: Actor = { kind: 'processor', id: 'stripe' };
  const dispatcher: Actor = { kind: 'system', id: DISPATCHER };
  const out: Timed[] = [];
  let at = startOf(stream);
  type Meta = { actor: Actor; source: Source; causationId: string | null; correlationId: string };
  const push = (type: string, data: Record<string, unknown>, meta: Meta) => {
    out.push({
      at,
      stream,
      event: {
        eventId: uuid(rng),
        streamId,
        streamVersion: out.length + 1,
        schemaVersion: CURRENT_SCHEMA_VERSION,
        occurredAt: new Date(at).toISOString(),
        actor: meta.actor,
        causationId: meta.causationId,
        correlationId: meta.correlationId,
        source: meta.source,
        type,
        data,
        globalPosition: 0,
      },
    });
  };
  const later = (min: number, max: number) => {
    at += min + Math.floor(rng() * (max - min));
  };
  const command = (): Meta => ({ actor: user, source: 'command', causationId: null, correlationId: uuid(rng) });
  const webhook = (): Meta => {
    const id = `evt_${alnum(rng, 24)}`;
    return { actor: stripe, source: 'webhook', causationId: id, correlationId: uuid(rng) };
  };
  const key = (attempt: number) => `${creditNoteId}:refund:${attempt}`;
  // Random alone is not unique: mulberry32 streams of different seeds overlap, and a million events drew the same
  // 24 characters for two credit notes (which `refund-lifecycle replay` rightly reported). The stream and attempt make it so.
  const refundIdFor = (attempt: number) => `re_${alnum(rng, 17)}${stream.toString(36).padStart(6, '0')}${attempt}`;
  const fromDispatcher = (attempt: number): Meta => {
    const id = `${streamId}#${out.length}:${key(attempt)}`;
    return { actor: dispatcher, source: 'dispatcher', causationId: id, correlationId: id };
  };
  const payment = { processor: 'stripe', paymentId: `pi_${alnum(rng, 24)}`, account: pick(rng, ACCOUNTS) };
  const issue = (meta = command(), paid = true, origin: 'host' | 'processor' = 'host') => {
    push('CreditNoteIssued', { creditNoteId, amount, currency, payment: paid ? payment : null, reason: pick(rng, REASONS), origin }, meta);
    return meta;
  };
  const request = (attempt: number, meta: Meta) =>
    push('RefundRequested', { attempt, idempotencyKey: key(attempt), amount, currency }, meta);
  const accept = (attempt: number, status: 'pending' | 'succeeded' = 'pending') => {
    const refundId = refundIdFor(attempt);
    later(300, 3 * SECOND);
    push(
      'RefundAccepted',
      { attempt, processorRefundId: refundId, processorStatus: status, pendingReason: status === 'pending' ? pick(rng, ['processing', null]) : null },
      fromDispatcher(attempt),
    );
    return refundId;
  };
  const succeed = (attempt: number, refundId: string) => {
    later(10 * MINUTE, 7 * DAY);
    push('RefundSucceeded', { attempt, processorRefundId: refundId }, webhook());
  };
  const fail = (attempt: number, refundId: string, terminal: boolean) => {
    later(1 * HOUR, 5 * DAY);
    push(
      'RefundFailed',
      terminal
        ? { attempt, processorRefundId: refundId, processorReason: 'charge_for_pending_refund_disputed', classification: { retry: 'will_not_help', recovery: 'manual_refund' }, message: 'The charge is disputed: refund the client by other means.' }
        : { attempt, processorRefundId: refundId, processorReason: 'expired_or_canceled_card', classification: { retry: 'after_action', recovery: 'retry' }, message: "The client's card has expired or was canceled." },
      webhook(),
    );
  };
  const retry = () => {
    later(2 * HOUR, 3 * DAY);
    push('RetryRequested', {}, command());
  };
  const manually = () => {
    later(1 * HOUR, 10 * DAY);
    push('MarkedRefundedManually', { reason: pick(rng, ['Paid back by bank transfer', 'Refunded in store', 'Cheque sent']), reference: rng() < 0.7 ? `TR-${alnum(rng, 10)}` : null, method: pick(rng, ['bank_transfer', 'cash', 'cheque', 'paypal']) }, command());
  };

  const roll = rng() * 100;
  if (roll < 70) {
    // Issued and requested in one command; accepted by the dispatcher's call; settled by a webhook days later.
    const meta = issue();
    request(1, meta);
    const immediate = roll >= 62;
    const refundId = accept(1, immediate ? 'succeeded' : 'pending');
    succeed(1, refundId);
  } else if (roll < 77) {
    // The charge-confirmation gate: deferred until the charge's webhook releases it.
    issue();
    push('RefundDeferred', { reason: 'charge_not_confirmed' }, command());
    later(5 * SECOND, 2 * HOUR);
    request(1, webhook());
    succeed(1, accept(1));
  } else if (roll < 80) {
    // 3-D Secure style: the processor needs action, then the balance is short, then it pays out.
    request(1, issue());
    const refundId = accept(1);
    later(1 * MINUTE, 1 * HOUR);
    push('RefundProgressed', { attempt: 1, processorRefundId: refundId, processorStatus: 'action_required', pendingReason: null }, webhook());
    later(1 * HOUR, 1 * DAY);
    push('RefundProgressed', { attempt: 1, processorRefundId: refundId, processorStatus: 'pending', pendingReason: 'insufficient_funds' }, webhook());
    succeed(1, refundId);
  } else if (roll < 85) {
    // A timeout on the first call: the same attempt, same idempotency key, tried again by the dispatcher.
    request(1, issue());
    later(10 * SECOND, 30 * SECOND);
    push(
      'RefundDeferred',
      { reason: 'transient_error', attempt: 1, error: { code: 'timeout', message: 'The processor did not answer within 10 s' }, consecutiveFailures: 1, retryAt: new Date(at + 30 * SECOND).toISOString() },
      fromDispatcher(1),
    );
    later(30 * SECOND, 40 * SECOND);
    request(1, fromDispatcher(1));
    succeed(1, accept(1));
  } else if (roll < 91) {
    // Failed (card expired), retried by a person, succeeded on attempt 2; one in six fails twice.
    request(1, issue());
    fail(1, accept(1), false);
    retry();
    request(2, command());
    const second = accept(2);
    if (roll < 86) {
      fail(2, second, false);
      retry();
      request(3, command());
      succeed(3, accept(3));
    } else succeed(2, second);
  } else if (roll < 93) {
    // Failed for good, refunded by hand.
    request(1, issue());
    fail(1, accept(1), true);
    manually();
  } else if (roll < 97) {
    // Not paid through a processor: only a manual refund fits.
    issue(command(), false);
    manually();
  } else if (roll < 98) {
    // Waiting on a charge confirmation that never came.
    issue();
    push('RefundDeferred', { reason: 'charge_not_confirmed' }, command());
  } else if (roll < 99) {
    // Reversal: the processor fails a refund it had reported succeeded.
    request(1, issue());
    const refundId = accept(1);
    succeed(1, refundId);
    fail(1, refundId, true);
  } else {
    // A refund made in the processor's dashboard, adopted.
    const meta = webhook();
    issue({ ...meta, source: 'webhook' }, true, 'processor');
    push('RefundAdopted', { attempt: 1, processorRefundId: refundIdFor(1), amount, currency, processorStatus: 'pending' }, meta);
    succeed(1, (out[out.length - 1]!.event.data as { processorRefundId: string }).processorRefundId);
  }
  return out;
};

/** Min-heap of events by (time, stream, version): the commit order. */
class EventHeap {
  private readonly items: Timed[] = [];
  get size() {
    return this.items.length;
  }
  peek(): Timed | undefined {
    return this.items[0];
  }
  private static less(a: Timed, b: Timed) {
    return a.at < b.at || (a.at === b.at && (a.stream < b.stream || (a.stream === b.stream && a.event.streamVersion < b.event.streamVersion)));
  }
  push(item: Timed) {
    const items = this.items;
    let i = items.push(item) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!EventHeap.less(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }
  pop(): Timed | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && EventHeap.less(items[l]!, items[m]!)) m = l;
        if (r < items.length && EventHeap.less(items[r]!, items[m]!)) m = r;
        if (m === i) break;
        [items[i], items[m]] = [items[m]!, items[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** Buffers lines and writes them in ~4 MB chunks. */
const lineWriter = (file: string) => {
  const fd = fs.openSync(file, 'w');
  let parts: string[] = [];
  let size = 0;
  let bytes = 0;
  const flush = () => {
    if (parts.length === 0) return;
    const chunk = parts.join('');
    bytes += fs.writeSync(fd, chunk);
    parts = [];
    size = 0;
  };
  return {
    line(text: string) {
      parts.push(text, '\n');
      size += text.length + 1;
      if (size >= 4 << 20) flush();
    },
    close() {
      flush();
      fs.closeSync(fd);
      return bytes;
    },
  };
};

const growInt32 = (array: Int32Array<ArrayBuffer>, needed: number): Int32Array<ArrayBuffer> => {
  if (needed <= array.length) return array;
  const grown = new Int32Array(Math.max(needed, array.length * 2));
  grown.set(array);
  return grown;
};

export type GeneratedLog = { events: number; creditNotes: number; openAtCut: number; grouped: string; global: string; bytes: number; seconds: number };

/**
 * Writes `events` stored events twice into `dir`: `global-<n>.jsonl` in commit order (streams interleaved,
 * globalPosition 1…n) and `grouped-<n>.jsonl` (each credit note's events contiguous, same globalPositions).
 */
export const generateLogs = (dir: string, events: number): GeneratedLog => {
  const started = performance.now();
  fs.mkdirSync(dir, { recursive: true });
  const global = path.join(dir, `global-${events}.jsonl`);
  const grouped = path.join(dir, `grouped-${events}.jsonl`);

  // Pass 1, commit order: start lifecycles in time order, emit the earliest pending event, stop at `events`.
  const heap = new EventHeap();
  let offsets = new Int32Array(1024); // stream → index of its first event in `positions`
  let emittedOf = new Int32Array(1024); // stream → events of it before the cut
  let positions = new Int32Array(Math.ceil(events * 1.1) + 1024); // offsets[stream] + version - 1 → globalPosition
  let built = 0;
  let slots = 0;
  let emitted = 0;
  const writer = lineWriter(global);
  while (emitted < events) {
    const top = heap.peek();
    if (top === undefined || startOf(built) <= top.at) {
      const lifecycle = buildLifecycle(built);
      offsets = growInt32(offsets, built + 1);
      emittedOf = growInt32(emittedOf, built + 1);
      offsets[built] = slots;
      slots += lifecycle.length;
      positions = growInt32(positions, slots);
      for (const timed of lifecycle) heap.push(timed);
      built += 1;
      continue;
    }
    heap.pop();
    emitted += 1;
    top.event.globalPosition = emitted;
    positions[offsets[top.stream]! + top.event.streamVersion - 1] = emitted;
    emittedOf[top.stream]! += 1;
    writer.line(JSON.stringify(top.event));
  }
  const bytes = writer.close();

  // Pass 2, grouped: the same lifecycles rebuilt, each cut where the global log was, with their positions.
  const groupedWriter = lineWriter(grouped);
  let creditNotes = 0;
  let openAtCut = 0;
  for (let stream = 0; stream < built; stream += 1) {
    const count = emittedOf[stream]!;
    if (count === 0) continue;
    creditNotes += 1;
    const lifecycle = buildLifecycle(stream);
    if (count < lifecycle.length) openAtCut += 1;
    for (let i = 0; i < count; i += 1) {
      const event = lifecycle[i]!.event;
      event.globalPosition = positions[offsets[stream]! + i]!;
      groupedWriter.line(JSON.stringify(event));
    }
  }
  const groupedBytes = groupedWriter.close();
  if (groupedBytes !== bytes) throw new Error(`grouped log has ${groupedBytes} bytes, global ${bytes}: not the same events`);
  const generated = { events, creditNotes, openAtCut, grouped, global, bytes, seconds: (performance.now() - started) / 1000 };
  fs.writeFileSync(metaFile(dir, events), JSON.stringify(generated));
  return generated;
};

const metaFile = (dir: string, events: number) => path.join(dir, `logs-${events}.json`);

/** The logs a previous {@link generateLogs} left in `dir` (kept with `keep`), if both files are whole. */
const existingLogs = (dir: string, events: number): GeneratedLog | null => {
  try {
    const generated = JSON.parse(fs.readFileSync(metaFile(dir, events), 'utf8')) as GeneratedLog;
    const whole = [generated.grouped, generated.global].every((file) => fs.statSync(file).size === generated.bytes);
    return whole && generated.events === events ? { ...generated, seconds: 0 } : null;
  } catch {
    return null;
  }
};

/**
 * Folds the first `streams` generated lifecycles (every prefix too: a cut log leaves prefixes) through
 * parseStoredEvent and foldCreditNote: the generator's own check that it writes only what the machine accepts.
 */
export const verifyLifecycles = (streams: number): Record<string, number> => {
  const statuses: Record<string, number> = {};
  for (let stream = 0; stream < streams; stream += 1) {
    const lifecycle = buildLifecycle(stream).map(({ event }, i) => ({ ...event, globalPosition: i + 1 }));
    const parsed = lifecycle.map((raw) => {
      const result = parseStoredEvent(JSON.parse(JSON.stringify(raw)));
      if (result.isErr()) throw new Error(`stream ${stream}: ${JSON.stringify(result.error.issues)}`);
      return result.value;
    });
    const domain = parsed.filter(isCreditNoteEvent) as CreditNoteEvent[];
    for (let cut = 1; cut <= domain.length; cut += 1) {
      const { state, rejected } = foldCreditNote(domain.slice(0, cut));
      if (rejected !== null) throw new Error(`stream ${stream}: ${rejected.event.type} rejected at ${rejected.index} from ${state.status}`);
      if (cut === domain.length) statuses[state.status] = (statuses[state.status] ?? 0) + 1;
    }
  }
  return statuses;
};

// ─── the children ────────────────────────────────────────────────────────────

/** `idle`: loads everything, reads nothing: the process's own floor. */
export type Mode = 'idle' | 'baseline' | 'grouped' | 'global' | 'cli';
export type Reader = 'sync' | 'stream' | 'readline';
/** `tsx`: `node --import tsx` on this file (tsx's loader thread counts in RSS); `bundle`: plain `node` on an esbuild bundle of it. */
export type Runtime = 'tsx' | 'bundle';
const MODES: readonly Mode[] = ['idle', 'baseline', 'grouped', 'global', 'cli'];
const READERS: readonly Reader[] = ['sync', 'stream', 'readline'];

export type ChildResult = {
  mode: Mode;
  reader: Reader;
  events: number;
  seconds: number;
  eventsPerSecond: number;
  /** User + system CPU time of the whole process (GC threads included) over the same span: less sensitive to a busy machine. */
  cpuSeconds: number;
  eventsPerCpuSecond: number;
  peakRssMb: number;
  heapUsedMb: number;
  creditNotes: number;
  statuses: Record<string, number>;
};

/**
 * 64 KB, as fs streams read by default. Strings decoded from chunks above ~128 KB go to V8's large-object space and
 * die only at a full mark-compact, so 1 MB chunks let the heap grow by ~60 MB of dead chunks (peak RSS 180 MB
 * for JSON.parse alone at 1M events, vs 120 MB with 64 KB chunks, at the same speed).
 */
const CHUNK = 64 << 10;

/** Calls `onLine` for each non-empty line of `file`. `sync`: readSync + split; `stream`: createReadStream + split; `readline`. */
const readLines = async (file: string, reader: Reader, onLine: (line: string) => void): Promise<void> => {
  if (reader === 'readline') {
    const lines = readline.createInterface({ input: fs.createReadStream(file, { highWaterMark: CHUNK }), crlfDelay: Infinity });
    await new Promise<void>((resolve, reject) => {
      lines.on('line', (line) => {
        if (line.length === 0) return;
        try {
          onLine(line);
        } catch (error) {
          lines.close();
          reject(error);
        }
      });
      lines.on('close', resolve);
    });
    return;
  }
  const decoder = new StringDecoder('utf8');
  let rest = '';
  const take = (text: string) => {
    const chunk = rest + text;
    let start = 0;
    for (let end = chunk.indexOf('\n'); end !== -1; end = chunk.indexOf('\n', start)) {
      if (end > start) onLine(chunk.slice(start, end));
      start = end + 1;
    }
    rest = chunk.slice(start);
  };
  if (reader === 'stream') {
    for await (const chunk of fs.createReadStream(file, { highWaterMark: CHUNK })) take(decoder.write(chunk as Buffer));
  } else {
    const fd = fs.openSync(file, 'r');
    try {
      const buffer = Buffer.allocUnsafe(CHUNK);
      for (let read = fs.readSync(fd, buffer); read > 0; read = fs.readSync(fd, buffer)) take(decoder.write(buffer.subarray(0, read)));
    } finally {
      fs.closeSync(fd);
    }
  }
  take(decoder.end());
  if (rest.length > 0) onLine(rest);
};

const parsed = (raw: unknown, line: number): StoredEvent => {
  const result = parseStoredEvent(raw);
  if (result.isErr()) throw new Error(`line ${line}: ${JSON.stringify(result.error.issues)}`);
  return result.value;
};

/** One measurement, in this process: what a child runs. */
export const replayFile = async (mode: Mode, file: string, reader: Reader): Promise<ChildResult> => {
  let events = 0;
  const statuses: Record<string, number> = {};
  const count = (state: CreditNoteState) => {
    statuses[state.status] = (statuses[state.status] ?? 0) + 1;
  };
  let onLine: (line: string) => void;
  let finish = () => {};
  if (mode === 'idle') {
    onLine = () => {
      throw new Error('idle reads nothing');
    };
  } else if (mode === 'baseline') {
    onLine = (line) => {
      JSON.parse(line);
      events += 1;
    };
  } else if (mode === 'grouped') {
    // One stream held at a time, folded when the next begins.
    let current: string | null = null;
    const held: CreditNoteEvent[] = [];
    const fold = () => {
      const { state, rejected } = foldCreditNote(held);
      if (rejected !== null) throw new Error(`${current}[${rejected.index}]: ${rejected.event.type} rejected from ${state.status}`);
      count(state);
      held.length = 0;
    };
    onLine = (line) => {
      events += 1;
      const event = parsed(JSON.parse(line), events);
      if (!isCreditNoteEvent(event)) return;
      if (event.streamId !== current) {
        if (current !== null) fold();
        // Cheap guard that the file really is grouped: a stream seen again would not restart at version 1.
        if (event.streamVersion !== 1) throw new Error(`line ${events}: ${event.streamId} starts at version ${event.streamVersion}`);
        current = event.streamId;
      }
      held.push(event); // as streams.ts's loadCreditNote: the fold reads stored events as they are
    };
    finish = () => {
      if (current !== null) fold();
    };
  } else {
    // Commit order: one CreditNoteState per credit note, stepped by fold.ts's evolveCreditNote.
    const states = new Map<string, CreditNoteState>();
    onLine = (line) => {
      events += 1;
      const event = parsed(JSON.parse(line), events);
      if (!isCreditNoteEvent(event)) return;
      const state = states.get(event.streamId) ?? initialCreditNoteState;
      const decision = evolveCreditNote(state, event);
      if (!decision.accepted) throw new Error(`line ${events}: ${event.type} rejected from ${state.status} in ${event.streamId}`);
      states.set(event.streamId, decision.state);
    };
    finish = () => {
      for (const state of states.values()) count(state);
    };
  }
  const started = performance.now();
  const cpu = process.cpuUsage();
  if (mode === 'cli') {
    // `refund-lifecycle replay <file> --format json`, whole, in this process: its own reader, validation, fold and checks.
    const report = await replayWithCli(file);
    events = report.events;
    Object.assign(statuses, report.statuses);
  } else if (mode !== 'idle') await readLines(file, reader, onLine);
  finish();
  const seconds = (performance.now() - started) / 1000;
  const cpuUsed = process.cpuUsage(cpu);
  const cpuSeconds = (cpuUsed.user + cpuUsed.system) / 1e6;
  return {
    mode,
    reader,
    events,
    seconds,
    eventsPerSecond: events / seconds,
    cpuSeconds,
    eventsPerCpuSecond: events / cpuSeconds,
    // Linux reports maxRSS in KB: the process's high-water mark (VmHWM), loader thread and all.
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    heapUsedMb: process.memoryUsage().heapUsed / 2 ** 20,
    creditNotes: Object.values(statuses).reduce((sum, n) => sum + n, 0),
    statuses,
  };
};

const replayWithCli = async (file: string): Promise<{ events: number; statuses: Record<string, number> }> => {
  let out = '';
  const sink = { write: (text: string) => ((out += text), true), isTTY: false } as unknown as NodeJS.WriteStream;
  const quiet = { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream;
  const exitCode = await runCli(['replay', file, '--format', 'json', '--as-of', '2030-01-01T00:00:00Z'], { stdout: sink, stderr: quiet, env: {} });
  const report = JSON.parse(out) as { events: number; statuses: Record<string, number>; violationCount: number; badLineCount: number };
  if (exitCode !== 0) throw new Error(`refund-lifecycle replay exited ${exitCode}: ${report.violationCount} violations, ${report.badLineCount} bad lines`);
  return report;
};

const thisFile = fileURLToPath(import.meta.url);
const repoRoot = path.resolve(path.dirname(thisFile), '..');

/** Bundles this file (and the library, zod and all) with esbuild into `dir`, for children run by plain `node`. */
export const bundleChild = async (dir: string): Promise<string> => {
  type Esbuild = { build: (options: Record<string, unknown>) => Promise<unknown> };
  const specifier = 'esbuild'; // installed with tsup and tsx; not a dependency of its own
  const esbuild = (await import(specifier)) as Esbuild;
  const outfile = path.join(dir, 'replay-memory-child.mjs');
  await esbuild.build({ entryPoints: [thisFile], bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile, logLevel: 'error' }); // no keepNames: its __name() wrappers hide inferred names from CPU profiles
  return outfile;
};

/**
 * Runs one measurement in a fresh process and returns what it printed: `node --import tsx` on this file,
 * or plain `node` on `bundle` (see {@link bundleChild}). `nodeArgs` go first (e.g. `--cpu-prof`).
 */
export const runChild = (
  mode: Mode,
  file: string,
  reader: Reader,
  options: { bundle?: string; nodeArgs?: readonly string[] } = {},
): Promise<ChildResult> =>
  new Promise((resolve, reject) => {
    const entry = options.bundle === undefined ? ['--import', 'tsx', thisFile] : [options.bundle];
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...entry, '--child', mode, file, '--reader', reader], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    child.on('error', reject);
    child.on('close', (code) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0 || !last.startsWith('{')) reject(new Error(`child ${mode} ${path.basename(file)} exited ${code}: ${stderr.trim() || stdout.trim()}`));
      else resolve(JSON.parse(last) as ChildResult);
    });
  });

// ─── the table ───────────────────────────────────────────────────────────────

export type ReplayMemoryRow = {
  name: string;
  order: 'grouped' | 'global';
  events: number;
  eventsPerSecond: number;
  /** JSON.parse only, same file, same run. */
  baselineEventsPerSecond: number;
  /** eventsPerSecond / baselineEventsPerSecond. */
  ratio: number;
  /** The same ratio on CPU time (events per CPU second): steadier than wall time when other work shares the machine. */
  cpuRatio: number;
  peakRssMb: number;
  baselinePeakRssMb: number;
  reader: Reader;
  runtime: Runtime;
  creditNotes: number;
  /** Peak RSS of a child that loads the same code and reads nothing. */
  processFloorRssMb: number;
};

export type ReplayMemoryOptions = {
  /** Log sizes, in events: default 1,000,000 and 5,000,000; smoke: 2,000. */
  events?: number[];
  smoke?: boolean;
  log?: (line: string) => void;
  reader?: Reader;
  /** Default `tsx`. */
  runtime?: Runtime;
  /** Children per measurement (baseline and replay alternate); the median run is kept. Default 1. */
  repeat?: number;
  /** Where the logs go; default a fresh temp dir, removed at the end unless `keep`. */
  dir?: string;
  /** Leave the logs in `dir`, and replay the ones a previous run left there instead of writing them again. */
  keep?: boolean;
};

const median = (results: ChildResult[]): ChildResult => {
  const sorted = [...results].sort((a, b) => a.eventsPerSecond - b.eventsPerSecond);
  return sorted[(sorted.length - 1) >> 1]!;
};

const medianOf = (results: ChildResult[], key: 'eventsPerCpuSecond'): number => {
  const sorted = results.map((r) => r[key]).sort((a, b) => a - b);
  return sorted[(sorted.length - 1) >> 1]!;
};

/** Same counts per status; a status counted zero is the same as one not counted. */
const sameStatuses = (a: Record<string, number>, b: Record<string, number>) => {
  const counted = (statuses: Record<string, number>) => JSON.stringify(Object.entries(statuses).filter(([, n]) => n > 0).sort());
  return counted(a) === counted(b);
};

export const runReplayMemoryBench = async (options: ReplayMemoryOptions = {}): Promise<ReplayMemoryRow[]> => {
  const smoke = options.smoke ?? false;
  const sizes = options.events ?? (smoke ? [2_000] : [1_000_000, 5_000_000]);
  const log = options.log ?? (() => {});
  const reader = options.reader ?? 'sync';
  const runtime = options.runtime ?? 'tsx';
  const repeat = options.repeat ?? 1;
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'replay-memory-'));
  const rows: ReplayMemoryRow[] = [];
  try {
    verifyLifecycles(smoke ? 200 : 2_000);
    const bundle = runtime === 'bundle' ? await bundleChild(dir) : undefined;
    const child = (mode: Mode, file: string) => runChild(mode, file, reader, bundle === undefined ? {} : { bundle });
    const floor = await child('idle', '-');
    log(`process floor (${runtime}, library loaded, nothing read): ${floor.peakRssMb.toFixed(0)} MB`);
    for (const size of sizes) {
      const kept = options.keep ? existingLogs(dir, size) : null;
      log(kept === null ? `generating ${size.toLocaleString('en-US')} events…` : `replaying the ${size.toLocaleString('en-US')} events left in ${dir}`);
      const generated = kept ?? generateLogs(dir, size);
      log(
        `  ${generated.creditNotes.toLocaleString('en-US')} credit notes (${generated.openAtCut} open at the cut), ` +
          `${(generated.bytes / 1e6).toFixed(0)} MB per file, ${generated.seconds.toFixed(1)} s`,
      );
      const byOrder: Partial<Record<'grouped' | 'global', ChildResult>> = {};
      try {
        for (const order of ['grouped', 'global'] as const) {
          const file = order === 'grouped' ? generated.grouped : generated.global;
          const baselines: ChildResult[] = [];
          const replays: ChildResult[] = [];
          const cliRuns: ChildResult[] = [];
          for (let run = 0; run < repeat; run += 1) {
            log(`  ${order}: baseline${repeat > 1 ? ` ${run + 1}/${repeat}` : ''}…`);
            baselines.push(await child('baseline', file));
            log(`  ${order}: replay${repeat > 1 ? ` ${run + 1}/${repeat}` : ''}…`);
            replays.push(await child(order, file));
            log(`  ${order}: refund-lifecycle replay${repeat > 1 ? ` ${run + 1}/${repeat}` : ''}…`);
            cliRuns.push(await child('cli', file));
          }
          const baseline = median(baselines);
          const replay = median(replays);
          const runs = (results: ChildResult[]) =>
            results.map((r) => `${Math.round(r.eventsPerSecond / 1000)}k/s (${Math.round(r.eventsPerCpuSecond / 1000)}k/cpu-s) ${r.peakRssMb.toFixed(0)} MB`).join(', ');
          log(`    baseline runs: ${runs(baselines)}`);
          log(`    replay runs:   ${runs(replays)}`);
          for (const result of [...baselines, ...replays, ...cliRuns]) {
            if (result.events !== size) throw new Error(`${result.mode} read ${result.events} events of ${size}`);
          }
          const cli = median(cliRuns);
          if (!sameStatuses(cli.statuses, replay.statuses)) {
            throw new Error(`refund-lifecycle replay and the ${order} fold disagree: ${JSON.stringify(cli.statuses)} vs ${JSON.stringify(replay.statuses)}`);
          }
          if (replay.creditNotes !== generated.creditNotes) throw new Error(`${order} replay folded ${replay.creditNotes} credit notes of ${generated.creditNotes}`);
          byOrder[order] = replay;
          log(`    baseline ${Math.round(baseline.eventsPerSecond)} ev/s, ${baseline.peakRssMb.toFixed(0)} MB; replay ${Math.round(replay.eventsPerSecond)} ev/s, ${replay.peakRssMb.toFixed(0)} MB`);
          const orderName = order === 'grouped' ? 'grouped by credit note' : 'global commit order';
          const rowOf = (name: string, runs: ChildResult[]): ReplayMemoryRow => {
            const measured = median(runs);
            return {
              name,
              order,
              events: size,
              eventsPerSecond: measured.eventsPerSecond,
              baselineEventsPerSecond: baseline.eventsPerSecond,
              ratio: measured.eventsPerSecond / baseline.eventsPerSecond,
              cpuRatio: medianOf(runs, 'eventsPerCpuSecond') / medianOf(baselines, 'eventsPerCpuSecond'),
              peakRssMb: measured.peakRssMb,
              baselinePeakRssMb: baseline.peakRssMb,
              reader,
              runtime,
              creditNotes: measured.creditNotes,
              processFloorRssMb: floor.peakRssMb,
            };
          };
          rows.push(rowOf(`replay, ${orderName}`, replays), rowOf(`\`refund-lifecycle replay\`, ${orderName}`, cliRuns));
        }
        if (!sameStatuses(byOrder.grouped!.statuses, byOrder.global!.statuses)) {
          throw new Error(`grouped and global replays disagree: ${JSON.stringify(byOrder.grouped!.statuses)} vs ${JSON.stringify(byOrder.global!.statuses)}`);
        }
      } finally {
        if (!options.keep) {
          for (const file of [generated.grouped, generated.global, metaFile(dir, size)]) fs.rmSync(file, { force: true });
        }
      }
    }
  } finally {
    if (options.dir === undefined && !options.keep) fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
};

const int = (n: number) => Math.round(n).toLocaleString('en-US');

export const formatReplayMemoryTable = (rows: readonly ReplayMemoryRow[]): string =>
  [
    '| replay | events | credit notes | ev/s | JSON.parse only ev/s | ratio | ratio, CPU time | peak RSS | JSON.parse only peak RSS |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${int(r.events)} | ${int(r.creditNotes)} | ${int(r.eventsPerSecond)} | ${int(r.baselineEventsPerSecond)} | ${r.ratio.toFixed(2)}× | ${r.cpuRatio.toFixed(2)}× | ${r.peakRssMb.toFixed(0)} MB | ${r.baselinePeakRssMb.toFixed(0)} MB |`,
    ),
  ].join('\n');

// ─── entry points ────────────────────────────────────────────────────────────

const argValue = (args: string[], name: string): string | undefined => {
  const at = args.indexOf(name);
  return at === -1 ? undefined : args[at + 1];
};
const readerArg = (args: string[]): Reader | undefined => {
  const value = argValue(args, '--reader');
  if (value !== undefined && !READERS.includes(value as Reader)) throw new Error(`--reader: one of ${READERS.join(', ')}`);
  return value as Reader | undefined;
};

const main = async () => {
  const args = process.argv.slice(2);
  const child = argValue(args, '--child');
  if (child !== undefined) {
    const file = args[args.indexOf('--child') + 2];
    if (!MODES.includes(child as Mode) || file === undefined) throw new Error(`--child ${MODES.join('|')} <file>`);
    console.log(JSON.stringify(await replayFile(child as Mode, file, readerArg(args) ?? 'sync')));
    return;
  }
  const bundleTo = argValue(args, '--bundle-to');
  if (bundleTo !== undefined) {
    console.log(await bundleChild(bundleTo));
    return;
  }
  const generate = argValue(args, '--generate');
  if (generate !== undefined) {
    const dir = argValue(args, '--dir') ?? '.';
    console.log(verifyLifecycles(2_000));
    console.log(generateLogs(dir, Number(generate)));
    return;
  }
  const events = argValue(args, '--events')?.split(',').map(Number);
  if (events !== undefined && !events.every((n) => Number.isSafeInteger(n) && n > 0)) throw new Error('--events: positive integers, comma-separated');
  const repeat = argValue(args, '--repeat');
  const dir = argValue(args, '--dir');
  const reader = readerArg(args);
  const started = performance.now();
  const rows = await runReplayMemoryBench({
    smoke: args.includes('--smoke'),
    keep: args.includes('--keep'),
    ...(events === undefined ? {} : { events }),
    ...(repeat === undefined ? {} : { repeat: Number(repeat) }),
    ...(dir === undefined ? {} : { dir }),
    ...(reader === undefined ? {} : { reader }),
    ...(args.includes('--bundle') ? { runtime: 'bundle' as const } : {}),
    log: (line) => console.error(line),
  });
  const cpu = os.cpus();
  console.log(
    `\n${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, Node ${process.version}; reader ${rows[0]?.reader ?? '—'}, ` +
      `runtime ${rows[0]?.runtime ?? '—'} (process floor ${rows[0]?.processFloorRssMb.toFixed(0) ?? '—'} MB); ` +
      `${new Date().toISOString()}; ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
  );
  console.log(formatReplayMemoryTable(rows));
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
