/**
 * Test helpers shared by the specs, and only by them (eslint refuses this import outside
 * `*.spec.ts` files): the data directory and the recorded BTCUSDT files, the real BTCUSDT
 * rules and bars, event builders, an isolated bus on Bulwark's nats-server, the event-store
 * contract suite, and `until` (poll a condition with a time limit sized for a busy machine).
 * Importing it opens no socket and reads no file: what needs data, the bus or NestJS loads it
 * when called.
 */
export { BTCUSDT_FILES, DATA_DIR, readDataJson, SPOT_BTCUSDT_FILES } from './data';
export { btcusdtContract, btcusdtRules } from './rules';
export { type BarWindow, realBars } from './bars';
export {
  eventMetadata,
  type FillOptions,
  type MetadataOptions,
  newEvent,
  orderFilled,
  orderInitialized,
  orderSubmitted,
  rawEvent,
  recordedEvent,
  recordedLog,
  type RecordedOptions,
  strategyAttached,
} from './events';
export { dropIsolatedBus, type IsolatedBus, isolatedBus, openIsolatedBus } from './bus';
export { describeEventStoreContract } from './contract-suite';
export { type Probe, until, type UntilOptions } from './wait';
