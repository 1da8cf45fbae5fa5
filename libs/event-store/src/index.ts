export * from './port';
export { InMemoryEventStore } from './in-memory';
export {
  decodeStoredEvent,
  type DecodedMessage,
  EventHeaders,
  EventLogMissingError,
  eventLogStreamConfig,
  JetStreamEventStore,
  type JetStreamEventStoreOptions,
  readStoredMessage,
  subjectForStream,
  UndecodableEventError,
} from './jetstream';
export { canonicalJson, CHAIN_FIELDS_BYTES, type ChainBreak, type ChainContent, type ChainHead, ChainVerifier, eventHash, GENESIS_HASH, headHashOf, withoutChain } from './chain';
export { accountOfStreamId, StreamAccounts, verifyChains, type VerifyReport } from './verify';
export { ChainCheckpointer, DEFAULT_CHECKPOINT_EVERY } from './checkpoint';
// The KurrentDB client is loaded only by a process that opens that store (openEventStore).
export type { KurrentDBEventStore, KurrentDBEventStoreOptions } from './kurrentdb';
export { copyStore, CopyDestinationNotEmptyError, type CopyReport, CopySourceError, type HeadMismatch } from './copy';
export { type Relay, relayCheckpoint, type RelayOptions, SOURCE_POSITION_HEADER, startRelay } from './relay';
export { EVENT_STORE_KINDS, EventStoreConfigError, type EventStoreKind, eventStoreKind, kurrentDbUrl, openEventStore, openKurrentDB } from './open';
