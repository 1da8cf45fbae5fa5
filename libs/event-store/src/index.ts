export * from './port';
export { InMemoryEventStore } from './in-memory';
export {
  decodeStoredEvent,
  EventHeaders,
  JetStreamEventStore,
  type JetStreamEventStoreOptions,
  subjectForStream,
  UndecodableEventError,
} from './jetstream';
