/**
 * The EventStore contract suite (libs/event-store/src/contract-suite.ts, kept beside the
 * adapters it checks): `describeEventStoreContract(name, factory, { densePositions })` registers
 * the contract's tests for one adapter; `factory` builds a store over an empty log and its cleanup.
 */
export { describeEventStoreContract } from '@bulwark/event-store/contract-suite';
