import { StoreError } from '../errors.js';
import type { EventStore } from '../ports/eventStore.js';

/**
 * What the store throws is the store failing (the database is down, a
 * constraint broke): it leaves as a `StoreError`, so that everything else a
 * command throws can be told apart as a bug rather than reported as an outage.
 */
export const guardedStore = (store: EventStore): EventStore => {
  const guard =
    <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await call(...args);
      } catch (cause) {
        throw cause instanceof StoreError ? cause : new StoreError(cause);
      }
    };
  return {
    readStream: guard(store.readStream.bind(store)),
    append: guard(store.append.bind(store)),
    readAll: guard(store.readAll.bind(store)),
    listCreditNotes: guard(store.listCreditNotes.bind(store)),
    findProcessorRefund: guard(store.findProcessorRefund.bind(store)),
    hasEventsCausedBy: guard(store.hasEventsCausedBy.bind(store)),
    claimOutbox: guard(store.claimOutbox.bind(store)),
    completeOutbox: guard(store.completeOutbox.bind(store)),
    releaseOutbox: guard(store.releaseOutbox.bind(store)),
    listOutbox: guard(store.listOutbox.bind(store)),
    listCreditNotesByAge: guard(store.listCreditNotesByAge.bind(store)),
    requeueOutbox: guard(store.requeueOutbox.bind(store)),
    outboxCounts: guard(store.outboxCounts.bind(store)),
    readCheckpoint: guard(store.readCheckpoint.bind(store)),
    writeCheckpoint: guard(store.writeCheckpoint.bind(store)),
    listRefundRequests: guard(store.listRefundRequests.bind(store)),
    refundRequestReport: guard(store.refundRequestReport.bind(store)),
    ...(store.watchOutbox === undefined ? {} : { watchOutbox: guard(store.watchOutbox.bind(store)) }),
  };
};
