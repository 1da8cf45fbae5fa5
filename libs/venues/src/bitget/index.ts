export * from './errors';
export * from './bitget-usdtm';
export * from './local';
export * from './market-stream';
