export * from './errors';
export * from './bitget-usdtm';
export * from './local';
