export * from './config';
export * from './appender';
export * from './dead-letter';
export * from './zod-pipe';
export * from './transport';
export * from './bootstrap';
export * from './replay-clock';
export * from './request';
