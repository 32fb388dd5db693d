import { readFileSync } from 'node:fs';
import type { CreditNoteState, CreditNoteStatus } from '../../src/machine/creditNoteState.js';

/*
 * The log a real run wrote in schema version 1 (scripts/fixtures/writeSchemaV1Log.ts),
 * and the states that run left its credit notes in.
 */

const fixtureUrl = (name: string) => new URL(`../fixtures/logs/${name}`, import.meta.url);

/** One stored event per line, in global commit order, as JSON left them: plain, unvalidated, version 1. */
export type V1Line = { streamId: string; streamVersion: number; schemaVersion: number; type: string; data: Record<string, unknown>; globalPosition: number };

export const readSchemaV1Log = (): V1Line[] =>
  readFileSync(fixtureUrl('schema-v1.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as V1Line);

export const schemaV1FinalStates = (): Record<string, CreditNoteState> =>
  JSON.parse(readFileSync(fixtureUrl('schema-v1.final-states.json'), 'utf8')) as Record<string, CreditNoteState>;

/** Where the run left each credit note, spelled out so the fixture cannot drift unnoticed. */
export const schemaV1Statuses: Record<string, CreditNoteStatus> = {
  cn_v1_paid: 'succeeded',
  cn_v1_failed: 'failed',
  cn_v1_gated: 'requested',
  cn_v1_sepa: 'manual',
};

/** Each credit note's events, in stream order; payment streams left out. */
export const creditNoteHistories = (lines: readonly V1Line[]): Map<string, V1Line[]> => {
  const histories = new Map<string, V1Line[]>();
  for (const line of lines) {
    if (!line.streamId.startsWith('credit-note-')) continue;
    const creditNoteId = line.streamId.slice('credit-note-'.length);
    histories.set(creditNoteId, [...(histories.get(creditNoteId) ?? []), line]);
  }
  return histories;
};
