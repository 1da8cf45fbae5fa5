export * from './primitives';
export * from './envelope';
export * from './events';
export * from './messages';
