export * from './local-urls';
export * from './binance-margin';
