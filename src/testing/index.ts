// refund-lifecycle/testing — what a host's test suite needs to run the lifecycle without Stripe or a database.
export { inMemoryEventStore } from '../adapters/inMemoryEventStore.js';
export {
  fakeGateway,
  fakeFailureClassification,
  type FakeGateway,
  type FakeGatewayOptions,
  type FakeCreateBehaviour,
  type FakeRefundNotice,
  type NoticeDelivery,
} from './fakeGateway.js';
export { recordingNotifier, type RecordingNotifier, type NotifierMisbehaviour } from './recordingNotifier.js';
export { manualClock, type ManualClock } from './manualClock.js';
