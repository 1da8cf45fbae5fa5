export * from './margin-desk';
export * from './margin-watch';
export * from './margin-execution';
export * from './paper-margin-port';
export * from './spot-margin-backtest';
