import type { AppendRequest, EventStore } from '../src/ports/eventStore.js';

/** The store, telling `record` of every append request it receives before passing it on. */
export const recordingAppends = (store: EventStore, record: (request: AppendRequest) => void): EventStore => ({
  ...store,
  append: (request) => {
    record(request);
    return store.append(request);
  },
});

/** A notifier that only counts: the host's mailer costs what it costs, and what is measured is the library's work. */
export const countingNotifier = () => {
  let sent = 0;
  return { notifier: { send: async () => void (sent += 1) }, sent: () => sent };
};
