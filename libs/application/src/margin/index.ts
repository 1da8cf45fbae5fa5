export * from './margin-desk';
export * from './margin-watch';
export * from './margin-execution';
