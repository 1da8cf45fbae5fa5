export * from './margin-desk';
export * from './margin-watch';
