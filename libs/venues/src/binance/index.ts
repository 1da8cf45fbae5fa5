export * from './errors';
export * from './rate-budget';
export * from './retry';
export * from './requests';
export * from './local-urls';
export * from './binance-usdm';
export * from './local';
export * from './market-stream';
