export * from './port';
export { InMemoryEventStore } from './in-memory';
export {
  decodeStoredEvent,
  type DecodedMessage,
  EventHeaders,
  JetStreamEventStore,
  type JetStreamEventStoreOptions,
  readStoredMessage,
  subjectForStream,
  UndecodableEventError,
} from './jetstream';
