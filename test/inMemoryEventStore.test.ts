import { inMemoryEventStore } from '../src/adapters/inMemoryEventStore.js';
import { describeEventStoreContract } from './contract/eventStoreContract.js';

describeEventStoreContract('in memory', () => inMemoryEventStore());
