export * from './metrics';
export * from './projection';
export * from './process';
export * from './server';
export * from './tracing';
export * from './venue';
export * from './histogram';
